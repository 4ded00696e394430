#pragma once
// A non-owning view of a contiguous array, as the SDK's poplar::ArrayRef.
#include <cstddef>
#include <initializer_list>
#include <type_traits>
#include <vector>

namespace poplar {

template <class T> class ArrayRef {
public:
  using const_iterator = const T *;

  constexpr ArrayRef() : data_(nullptr), size_(0) {}
  constexpr ArrayRef(const T *p, std::size_t size) : data_(p), size_(size) {}
  template <class U, class Alloc,
            typename = std::enable_if_t<std::is_same_v<std::remove_const_t<U>, std::remove_const_t<T>>>>
  ArrayRef(const std::vector<U, Alloc> &v) : data_(v.data()), size_(v.size()) {}
  template <class U, typename = std::enable_if_t<std::is_same_v<std::remove_const_t<U>, std::remove_const_t<T>>>>
  constexpr ArrayRef(const ArrayRef<U> &other) : data_(other.data()), size_(other.size()) {}
  // The list must outlive the ArrayRef: pass it straight to a call, as the SDK's callers do.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  ArrayRef(std::initializer_list<T> list) : data_(list.begin()), size_(list.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

  constexpr bool empty() const { return size_ == 0; }
  constexpr std::size_t size() const { return size_; }
  constexpr const T *data() const { return data_; }
  const_iterator begin() const { return data_; }
  const_iterator end() const { return data_ + size_; }
  const T &operator[](std::size_t i) const { return data_[i]; }

private:
  const T *data_;
  std::size_t size_;
};

} // namespace poplar

namespace gccs {
// The SDK's gccs::ArrayRef is a class template of its own (poplibs, built as C++17, deduces its argument:
// gccs::ArrayRef(values)), a view the Engine writes host data through.
template <class T> class ArrayRef : public poplar::ArrayRef<T> {
public:
  constexpr ArrayRef(T *p, std::size_t size) : poplar::ArrayRef<T>(p, size) {}
  ArrayRef(std::vector<T> &v) : poplar::ArrayRef<T>(v.data(), v.size()) {}
};
} // namespace gccs
