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
    for (auto g = firstEndingAfter(begin); g != groups_.end() && at < end; ++g) {
      for (std::uint32_t i = g->begin < at ? static_cast<std::uint32_t>((at - g->begin) / g->length) : 0; i < g->count;
           ++i) {
        const std::size_t runBegin = std::size_t{g->begin} + std::size_t{i} * g->length;
        if (runBegin >= end) break;
        if (runBegin > at) {
          f(at, runBegin, -1L);
          at = runBegin;
        }
        const std::size_t runEnd = runBegin + g->length;
        const std::size_t stop = runEnd < end ? runEnd : end;
        f(at, stop, static_cast<long>(g->tile + i));
        at = stop;
      }
    }
    if (at < end) f(at, end, -1L);
  }

private:
  // A variable's mapping is most often one run per tile of an IPU, all of one length on consecutive tiles (a linear
  // mapping): such runs are stored as one group, which keeps a graph of thousands of variables over 1,472 tiles
  // small. Group: `count` runs of `length` elements from `begin`, run i on tile `tile + i`.
  struct Group {
    std::uint32_t begin, length, tile, count;
    std::size_t end() const { return std::size_t{begin} + std::size_t{length} * count; }
  };
  struct Stored {
    std::uint32_t begin, end, tile;
  };
  std::vector<Group>::const_iterator firstEndingAfter(std::size_t index) const;
  void append(const Stored &run);
  std::vector<Stored> expanded() const;
  std::vector<Group> groups_; // sorted and disjoint; touching runs on one tile are merged
};

} // namespace poplar_emulator
