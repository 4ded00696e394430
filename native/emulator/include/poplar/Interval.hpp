#pragma once
// A half-open range [begin, end), as the SDK's poplar::Interval.
#include <cstddef>
#include <ostream>

namespace poplar {

template <class T> struct GenericInterval {
  GenericInterval() : begin_(), end_() {}
  GenericInterval(T begin, T end) : begin_(begin), end_(end) {}
  const T &begin() const { return begin_; }
  const T &end() const { return end_; }
  T size() const { return end_ - begin_; }

private:
  T begin_;
  T end_;
};

template <class T> inline bool operator==(const GenericInterval<T> &a, const GenericInterval<T> &b) {
  return a.begin() == b.begin() && a.end() == b.end();
}
template <class T> inline bool operator!=(const GenericInterval<T> &a, const GenericInterval<T> &b) { return !(a == b); }
template <class T> inline bool operator<(const GenericInterval<T> &a, const GenericInterval<T> &b) {
  return a.begin() < b.begin() || (a.begin() == b.begin() && a.end() < b.end());
}
template <class T> std::ostream &operator<<(std::ostream &os, const GenericInterval<T> &i) {
  return os << '[' << i.begin() << ", " << i.end() << ')';
}

typedef GenericInterval<std::size_t> Interval;

} // namespace poplar
