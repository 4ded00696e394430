#include "core/HostWorkers.hpp"

namespace poplar_emulator {
namespace {
// A worker polls this many times for the next call before it sleeps: kernels come back to back, and waking a
// sleeping thread costs more than a small kernel takes.
constexpr int kPollsBeforeSleep = 4000;
} // namespace

HostWorkers::HostWorkers(unsigned threads) {
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

HostWorkers::~HostWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto &t : workers_) t.join();
}

// Claims parts until none are left. Every part is claimed once and counted as finished; after an error the rest
// are counted without running.
void HostWorkers::drain(const std::function<void(std::size_t)> &part, std::size_t parts) {
  for (;;) {
    const std::size_t i = next_.fetch_add(1);
    if (i >= parts) return;
    if (!failed_.load()) {
      try {
        part(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true);
      }
    }
    if (finished_.fetch_add(1) + 1 == parts) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
}

void HostWorkers::work() {
  std::uint64_t seen = 0;
  for (;;) {
    for (int polls = 0; generation_.load() == seen && polls < kPollsBeforeSleep; ++polls) std::this_thread::yield();
    const std::function<void(std::size_t)> *part = nullptr;
    std::size_t parts = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (stopping_) return;
      if (!open_) continue;  // woke after the call ended
      ++joined_;
      part = part_;
      parts = parts_;
    }
    drain(*part, parts);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --joined_;
    }
    done_.notify_all();
  }
}

void HostWorkers::run(std::size_t parts, const std::function<void(std::size_t)> &part) {
  std::unique_lock<std::mutex> call(callMutex_, std::try_to_lock);
  if (parts <= 1 || workers_.empty() || !call.owns_lock()) {
    for (std::size_t i = 0; i < parts; ++i) part(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    part_ = &part;
    parts_ = parts;
    next_.store(0);
    finished_.store(0);
    failed_.store(false);
    error_ = nullptr;
    open_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  drain(part, parts);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Closed only when no worker is inside: none can still be running a part of this call after it returns.
    done_.wait(lock, [&] { return finished_.load() == parts && joined_ == 0; });
    open_ = false;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

} // namespace poplar_emulator
