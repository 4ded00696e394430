#pragma once
// Freed variable storage kept for the next variable of the same size. A program runs the same steps run after run,
// so most storage comes back at the size it left; a fresh allocation would cost the page faults of new memory on
// every step. The pool never makes the replica hold more than its peak of live storage: a buffer it cannot reuse
// is dropped before new memory is taken beyond that peak.
#include <cstddef>
#include <map>
#include <vector>

namespace poplar_emulator {

class StoragePool {
public:
  using Buffer = std::vector<unsigned char>;

  // A zeroed buffer of `bytes`, reused when the pool holds one of that size. `live` is the storage in use now.
  Buffer take(std::size_t bytes, std::size_t live) {
    Buffer buffer;
    if (auto it = free_.find(bytes); it != free_.end()) {
      buffer.swap(it->second.back());
      it->second.pop_back();
      if (it->second.empty()) free_.erase(it);
      pooled_ -= bytes;
      std::fill(buffer.begin(), buffer.end(), 0);
    } else {
      // Room for the new buffer within the peak, by dropping the largest pooled buffers first.
      while (!free_.empty() && live + pooled_ + bytes > std::max(peak_, live + bytes)) {
        auto largest = std::prev(free_.end());
        pooled_ -= largest->first;
        largest->second.pop_back();
        if (largest->second.empty()) free_.erase(largest);
      }
      buffer.assign(bytes, 0);
    }
    peak_ = std::max(peak_, live + bytes);
    return buffer;
  }

  void give(Buffer &&buffer) {
    if (buffer.empty()) return;
    pooled_ += buffer.size();
    free_[buffer.size()].push_back(std::move(buffer));
  }

  std::size_t pooledBytes() const { return pooled_; }

  void clear() {
    free_.clear();
    pooled_ = 0;
  }

private:
  std::map<std::size_t, std::vector<Buffer>> free_; // by size in bytes
  std::size_t pooled_ = 0;
  std::size_t peak_ = 0; // the most live storage seen
};

} // namespace poplar_emulator
