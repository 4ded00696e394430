#pragma once
// Which tile holds each element of one variable, as disjoint intervals of element indices.
#include <cstddef>
#include <map>
#include <vector>

namespace poplar_emulator {

class TileMap {
public:
  // Maps elements [begin, end) to `tile`, replacing what was mapped there before.
  void assign(std::size_t begin, std::size_t end, unsigned tile);
  // The tile of element `index`, or -1 when it is unmapped.
  long tileOf(std::size_t index) const;
  // Number of elements mapped; equal to the variable's size when the mapping is complete.
  std::size_t mappedElements() const;
  struct Run {
    std::size_t begin, end;
    unsigned tile;
  };
  std::vector<Run> runs() const;
  // Calls f(begin, end, tile) for the pieces of [begin, end) in order; tile is -1 where unmapped.
  template <class F> void forEachRun(std::size_t begin, std::size_t end, F &&f) const {
    std::size_t at = begin;
    auto it = byBegin_.upper_bound(begin);
    if (it != byBegin_.begin()) --it;
    while (at < end) {
      while (it != byBegin_.end() && it->second.end <= at) ++it;
      if (it == byBegin_.end() || it->first >= end) {
        f(at, end, -1L);
        return;
      }
      if (it->first > at) {
        f(at, it->first, -1L);
        at = it->first;
      }
      std::size_t stop = it->second.end < end ? it->second.end : end;
      f(at, stop, static_cast<long>(it->second.tile));
      at = stop;
    }
  }

private:
  struct Entry {
    std::size_t end;
    unsigned tile;
  };
  std::map<std::size_t, Entry> byBegin_;
};

} // namespace poplar_emulator
