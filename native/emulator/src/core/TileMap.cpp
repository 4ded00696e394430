#include "core/TileMap.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace poplar_emulator {

std::vector<TileMap::Group>::const_iterator TileMap::firstEndingAfter(std::size_t index) const {
  return std::partition_point(groups_.begin(), groups_.end(), [&](const Group &g) { return g.end() <= index; });
}

// Appends a run after every stored one: it joins the last group when it continues its pattern, or extends the last
// run when it touches it on the same tile.
void TileMap::append(const Stored &run) {
  if (!groups_.empty()) {
    Group &last = groups_.back();
    const std::uint32_t length = run.end - run.begin;
    const std::uint32_t lastTile = last.tile + last.count - 1;
    if (last.end() == run.begin && run.tile == lastTile) {  // the same tile: the last run grows
      if (last.count == 1) {
        last.length += length;
        return;
      }
      --last.count;
      groups_.push_back(Group{static_cast<std::uint32_t>(last.end()), last.length + length, run.tile, 1});
      return;
    }
    if (last.end() == run.begin && run.tile == lastTile + 1 && length == last.length) {
      ++last.count;
      return;
    }
  }
  groups_.push_back(Group{run.begin, run.end - run.begin, run.tile, 1});
}

std::vector<TileMap::Stored> TileMap::expanded() const {
  std::vector<Stored> runs;
  for (const Group &g : groups_)
    for (std::uint32_t i = 0; i < g.count; ++i)
      runs.push_back(Stored{g.begin + i * g.length, g.begin + (i + 1) * g.length, g.tile + i});
  return runs;
}

void TileMap::assign(std::size_t begin, std::size_t end, unsigned tile) {
  if (begin >= end) return;
  if (end > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("tile mapping: element " + std::to_string(end - 1) + " is beyond 2^32 elements of one variable");
  const Stored run{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end), tile};
  // Mappings are mostly written in order: extend or append.
  if (groups_.empty() || groups_.back().end() <= begin) {
    append(run);
    return;
  }
  // Otherwise (a remapping): the runs overlapping [begin, end) are replaced by their parts outside it and the new run.
  std::vector<Stored> runs = expanded();
  std::vector<Stored> merged;
  merged.reserve(runs.size() + 2);
  bool placed = false;
  for (const Stored &r : runs) {
    if (r.end <= run.begin) {
      merged.push_back(r);
      continue;
    }
    if (r.begin < run.begin) merged.push_back(Stored{r.begin, run.begin, r.tile});
    if (!placed && r.begin >= run.begin) {
      merged.push_back(run);
      placed = true;
    }
    if (r.begin < run.begin && !placed) {
      merged.push_back(run);
      placed = true;
    }
    if (r.end > run.end) merged.push_back(Stored{std::max(r.begin, run.end), r.end, r.tile});
  }
  if (!placed) merged.push_back(run);
  groups_.clear();
  for (const Stored &r : merged) append(r);
}

long TileMap::tileOf(std::size_t index) const {
  auto g = firstEndingAfter(index);
  if (g == groups_.end() || g->begin > index) return -1;
  return static_cast<long>(g->tile + (index - g->begin) / g->length);
}

std::size_t TileMap::mappedElements() const {
  std::size_t n = 0;
  for (const Group &g : groups_) n += std::size_t{g.length} * g.count;
  return n;
}

std::vector<TileMap::Run> TileMap::runs() const {
  std::vector<Run> out;
  for (const Stored &r : expanded()) out.push_back(Run{r.begin, r.end, r.tile});
  return out;
}

} // namespace poplar_emulator
