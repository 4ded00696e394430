// The tile mapping of one variable: runs written in order, and runs written over others (later wins).
#include <gtest/gtest.h>

#include <vector>

#include "core/TileMap.hpp"

using poplar_emulator::TileMap;

namespace {

std::vector<long> tiles(const TileMap &map, std::size_t n) {
  std::vector<long> t;
  for (std::size_t i = 0; i < n; ++i) t.push_back(map.tileOf(i));
  return t;
}

} // namespace

TEST(TileMap, RunsWrittenInOrderMergeOnOneTile) {
  TileMap map;
  map.assign(0, 4, 1);
  map.assign(4, 6, 1);
  map.assign(8, 10, 2);
  EXPECT_EQ(tiles(map, 11), (std::vector<long>{1, 1, 1, 1, 1, 1, -1, -1, 2, 2, -1}));
  EXPECT_EQ(map.runs().size(), 2u);
  EXPECT_EQ(map.mappedElements(), 8u);
}

TEST(TileMap, ALaterRunReplacesWhatItCovers) {
  TileMap map;
  map.assign(0, 10, 1);
  map.assign(3, 5, 2);   // inside one run: it splits in three
  map.assign(8, 12, 3);  // over a run's tail and beyond
  map.assign(0, 1, 4);   // over a run's head
  EXPECT_EQ(tiles(map, 13), (std::vector<long>{4, 1, 1, 2, 2, 1, 1, 1, 3, 3, 3, 3, -1}));
  map.assign(2, 9, 1);   // over several runs; merges with the run on tile 1 before it
  EXPECT_EQ(tiles(map, 13), (std::vector<long>{4, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, -1}));
  EXPECT_EQ(map.runs().size(), 3u);
  std::vector<std::vector<long>> pieces;
  map.forEachRun(0, 13, [&](std::size_t b, std::size_t e, long t) { pieces.push_back({long(b), long(e), t}); });
  EXPECT_EQ(pieces, (std::vector<std::vector<long>>{{0, 1, 4}, {1, 9, 1}, {9, 12, 3}, {12, 13, -1}}));
}
