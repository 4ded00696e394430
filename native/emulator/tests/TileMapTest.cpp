// The tile mapping of one variable: runs written in order, and runs written over others (later wins).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
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

TEST(TileMap, RunsOnConsecutiveTilesAndRemappingsAgreeWithAnElementByElementMap) {
  // A linear mapping (equal runs on consecutive tiles, as mapTensorLinearly writes), then random runs written over
  // it; after each, every query agrees with a plain per-element table.
  std::mt19937 random(7);
  const std::size_t n = 5000;
  TileMap map;
  std::vector<long> expected(n, -1);
  for (std::size_t tile = 0; tile < 40; ++tile) {
    const std::size_t begin = tile * 100, end = std::min(n, begin + 100);
    map.assign(begin, end, static_cast<unsigned>(tile));
    std::fill(expected.begin() + static_cast<std::ptrdiff_t>(begin), expected.begin() + static_cast<std::ptrdiff_t>(end),
              static_cast<long>(tile));
  }
  for (int write = 0; write < 200; ++write) {
    const std::size_t begin = random() % n, end = std::min(n, begin + 1 + random() % 700);
    const unsigned tile = static_cast<unsigned>(random() % 50);
    map.assign(begin, end, tile);
    std::fill(expected.begin() + static_cast<std::ptrdiff_t>(begin), expected.begin() + static_cast<std::ptrdiff_t>(end),
              static_cast<long>(tile));
    ASSERT_EQ(tiles(map, n), expected) << "after write " << write;
    std::size_t mapped = 0;
    for (long t : expected) mapped += t >= 0;
    ASSERT_EQ(map.mappedElements(), mapped) << "after write " << write;
    std::vector<long> walked;
    const std::size_t from = random() % n, to = from + random() % (n - from + 1);
    map.forEachRun(from, to, [&](std::size_t b, std::size_t e, long t) {
      for (std::size_t i = b; i < e; ++i) walked.push_back(t);
    });
    ASSERT_EQ(walked, std::vector<long>(expected.begin() + static_cast<std::ptrdiff_t>(from),
                                        expected.begin() + static_cast<std::ptrdiff_t>(to)))
        << "forEachRun(" << from << ", " << to << ") after write " << write;
    for (const auto &run : map.runs())
      for (std::size_t i = run.begin; i < run.end; ++i) ASSERT_EQ(expected[i], static_cast<long>(run.tile));
  }
}
