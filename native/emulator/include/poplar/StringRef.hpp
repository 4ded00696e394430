#pragma once
// A non-owning view of characters, as the SDK's poplar::StringRef.
#include <cstddef>
#include <cstring>
#include <ostream>
#include <string>

namespace poplar {

class StringRef {
public:
  StringRef() : data_(""), size_(0) {}
  StringRef(const std::string &s) : data_(s.data()), size_(s.size()) {}
  StringRef(const char *p, std::size_t size) : data_(p), size_(size) {}
  StringRef(const char *p) : data_(p), size_(std::strlen(p)) {}

  std::string cloneAsString() const { return std::string(data_, size_); }
  operator std::string() const { return cloneAsString(); }
  const char *data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

private:
  const char *data_;
  std::size_t size_;
};

inline bool operator==(StringRef a, StringRef b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}
inline std::ostream &operator<<(std::ostream &os, StringRef s) { return os.write(s.data(), static_cast<std::streamsize>(s.size())); }

} // namespace poplar
