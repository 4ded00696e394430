#include "core/TileMap.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace poplar_emulator {

std::vector<TileMap::Stored>::const_iterator TileMap::firstEndingAfter(std::size_t index) const {
  return std::partition_point(runs_.begin(), runs_.end(), [&](const Stored &r) { return r.end <= index; });
}

void TileMap::assign(std::size_t begin, std::size_t end, unsigned tile) {
  if (begin >= end) return;
  if (end > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("tile mapping: element " + std::to_string(end - 1) + " is beyond 2^32 elements of one variable");
  const Stored run{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end), tile};
  // Mappings are mostly written in order: extend or append.
  if (runs_.empty() || runs_.back().end <= begin) {
    if (!runs_.empty() && runs_.back().end == begin && runs_.back().tile == tile) runs_.back().end = run.end;
    else runs_.push_back(run);
    return;
  }
  // Replace the runs overlapping [begin, end) by their parts outside it and the new run.
  auto first = runs_.begin() + (firstEndingAfter(begin) - runs_.cbegin());
  auto last = std::partition_point(first, runs_.end(), [&](const Stored &r) { return r.begin < end; });
  std::vector<Stored> pieces;
  if (first != last && first->begin < begin) pieces.push_back(Stored{first->begin, run.begin, first->tile});
  pieces.push_back(run);
  if (first != last && std::prev(last)->end > end)
    pieces.push_back(Stored{run.end, std::prev(last)->end, std::prev(last)->tile});
  const std::size_t at = static_cast<std::size_t>(runs_.erase(first, last) - runs_.begin());
  runs_.insert(runs_.begin() + static_cast<std::ptrdiff_t>(at), pieces.begin(), pieces.end());
  // Merge touching runs on one tile around the new ones, so runs stay few.
  const std::size_t lo = at == 0 ? 0 : at - 1, hi = std::min(at + pieces.size() + 1, runs_.size());
  std::size_t kept = lo;
  for (std::size_t r = lo + 1; r < hi; ++r) {
    if (runs_[kept].end == runs_[r].begin && runs_[kept].tile == runs_[r].tile) runs_[kept].end = runs_[r].end;
    else runs_[++kept] = runs_[r];
  }
  runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(kept + 1), runs_.begin() + static_cast<std::ptrdiff_t>(hi));
}

long TileMap::tileOf(std::size_t index) const {
  auto it = firstEndingAfter(index);
  return it != runs_.end() && it->begin <= index ? static_cast<long>(it->tile) : -1;
}

std::size_t TileMap::mappedElements() const {
  std::size_t n = 0;
  for (const Stored &r : runs_) n += r.end - r.begin;
  return n;
}

std::vector<TileMap::Run> TileMap::runs() const {
  std::vector<Run> out;
  out.reserve(runs_.size());
  for (const Stored &r : runs_) out.push_back(Run{r.begin, r.end, r.tile});
  return out;
}

} // namespace poplar_emulator
