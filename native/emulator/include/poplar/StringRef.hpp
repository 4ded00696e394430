#pragma once
// A non-owning view of characters, as the SDK's poplar::StringRef.
#include <cstddef>
#include <cstring>
#include <ostream>
#include <string>

#include <poplar/ArrayRef.hpp>

namespace poplar {

// The SDK's StringRef is an ArrayRef<char>; data(), size() and empty() are ArrayRef's.
class StringRef : public ArrayRef<char> {
public:
  constexpr StringRef() : ArrayRef<char>("", 0) {}
  StringRef(const std::string &s) : ArrayRef<char>(s.data(), s.size()) {}
  StringRef(const char *p, std::size_t size) : ArrayRef<char>(p, size) {}
  StringRef(const char *p) : ArrayRef<char>(p, std::strlen(p)) {}

  std::string cloneAsString() const { return std::string(data(), size()); }
  operator std::string() const { return cloneAsString(); }
};

inline bool operator==(StringRef a, StringRef b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}
inline std::ostream &operator<<(std::ostream &os, const StringRef &s) { return os.write(s.data(), static_cast<std::streamsize>(s.size())); }

} // namespace poplar
