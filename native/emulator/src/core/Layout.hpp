#pragma once
// Walks over where a tensor's elements live: pieces of variables and the tiles that hold them.
#include <cstddef>
#include <cstdint>
#include <set>

#include "core/GraphState.hpp"
#include "core/TensorImpl.hpp"

namespace poplar_emulator {

// Calls f(flatBegin, flatEnd, tile) for runs of the tensor's flattened elements held on one tile
// (tile -1: unmapped). Runs are in order and cover the tensor.
template <class F> void forEachTileRun(const GraphState &state, const TensorLayout &t, F &&f) {
  std::size_t flat = 0;
  for (const Segment &s : t.segments) {
    const TileMap &map = state.vars[s.var].mapping;
    if (s.stride == 1) {
      std::size_t b = static_cast<std::size_t>(s.start);
      map.forEachRun(b, b + s.count, [&](std::size_t rb, std::size_t re, long tile) { f(flat + rb - b, flat + re - b, tile); });
    } else {
      for (std::size_t k = 0; k < s.count; ++k) {
        long tile = map.tileOf(static_cast<std::size_t>(s.start + static_cast<std::int64_t>(k) * s.stride));
        f(flat + k, flat + k + 1, tile);
      }
    }
    flat += s.count;
  }
}

// Calls f(segment) for the pieces of the tensor's flattened elements [begin, end), in order.
template <class F> void forEachPiece(const TensorLayout &t, std::size_t begin, std::size_t end, F &&f) {
  std::size_t flat = 0;
  for (const Segment &s : t.segments) {
    std::size_t segEnd = flat + s.count;
    std::size_t b = begin > flat ? begin : flat;
    std::size_t e = end < segEnd ? end : segEnd;
    if (b < e) f(Segment{s.var, s.start + static_cast<std::int64_t>(b - flat) * s.stride, e - b, s.stride});
    flat = segEnd;
    if (flat >= end) break;
  }
}

// The replica-level tiles holding any element of the tensor.
inline std::set<unsigned> tilesOf(const GraphState &state, const TensorLayout &t) {
  std::set<unsigned> tiles;
  forEachTileRun(state, t, [&](std::size_t, std::size_t, long tile) {
    if (tile >= 0) tiles.insert(static_cast<unsigned>(tile));
  });
  return tiles;
}

} // namespace poplar_emulator
