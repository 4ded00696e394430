#pragma once
// Which tile holds each element of one variable, as disjoint intervals of element indices (below 2^32).
#include <cstddef>
#include <cstdint>
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
    auto it = firstEndingAfter(begin);
    while (at < end) {
      if (it == runs_.end() || it->begin >= end) {
        f(at, end, -1L);
        return;
      }
      if (it->begin > at) {
        f(at, std::size_t{it->begin}, -1L);
        at = it->begin;
      }
      std::size_t stop = it->end < end ? std::size_t{it->end} : end;
      f(at, stop, static_cast<long>(it->tile));
      at = stop;
      ++it;
    }
  }

private:
  // A variable's mapping is often one run per tile of an IPU (a linear mapping): 12 bytes each keeps a graph of
  // thousands of variables over 1,472 tiles small.
  struct Stored {
    std::uint32_t begin, end, tile;
  };
  std::vector<Stored>::const_iterator firstEndingAfter(std::size_t index) const;
  std::vector<Stored> runs_; // sorted and disjoint; touching runs on one tile are merged
};

} // namespace poplar_emulator
