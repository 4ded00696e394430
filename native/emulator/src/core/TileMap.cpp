#include "core/TileMap.hpp"

namespace poplar_emulator {

void TileMap::assign(std::size_t begin, std::size_t end, unsigned tile) {
  if (begin >= end) return;
  // Cut any run that straddles begin or end, then drop the runs inside [begin, end).
  auto it = byBegin_.lower_bound(begin);
  if (it != byBegin_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > begin) {
      Entry tail = prev->second;
      prev->second.end = begin;
      if (tail.end > end) byBegin_[end] = tail;
    }
  }
  it = byBegin_.lower_bound(begin);
  while (it != byBegin_.end() && it->first < end) {
    if (it->second.end > end) {
      Entry tail = it->second;
      byBegin_.erase(it);
      byBegin_[end] = tail;
      break;
    }
    it = byBegin_.erase(it);
  }
  byBegin_[begin] = Entry{end, tile};
  // Merge with neighbours on the same tile so runs stay few.
  auto self = byBegin_.find(begin);
  if (self != byBegin_.begin()) {
    auto prev = std::prev(self);
    if (prev->second.end == begin && prev->second.tile == tile) {
      prev->second.end = self->second.end;
      byBegin_.erase(self);
      self = prev;
    }
  }
  auto next = std::next(self);
  if (next != byBegin_.end() && next->first == self->second.end && next->second.tile == tile) {
    self->second.end = next->second.end;
    byBegin_.erase(next);
  }
}

long TileMap::tileOf(std::size_t index) const {
  auto it = byBegin_.upper_bound(index);
  if (it == byBegin_.begin()) return -1;
  --it;
  return index < it->second.end ? static_cast<long>(it->second.tile) : -1;
}

std::size_t TileMap::mappedElements() const {
  std::size_t n = 0;
  for (const auto &kv : byBegin_) n += kv.second.end - kv.first;
  return n;
}

std::vector<TileMap::Run> TileMap::runs() const {
  std::vector<Run> out;
  out.reserve(byBegin_.size());
  for (const auto &kv : byBegin_) out.push_back(Run{kv.first, kv.second.end, kv.second.tile});
  return out;
}

} // namespace poplar_emulator
