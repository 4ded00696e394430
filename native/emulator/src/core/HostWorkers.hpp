#pragma once
// The host threads an engine's kernels share: the IPU's tiles work in parallel, and so do the emulator's kernels,
// on as many host threads as the engine is given (setHostThreads in core/Report.hpp). The parts of one call run on
// the workers and the calling thread, and the call returns when all are done.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/part_runner.h"

namespace poplar_emulator {

class HostWorkers final : public PartRunner {
public:
  explicit HostWorkers(unsigned threads);
  ~HostWorkers();
  HostWorkers(const HostWorkers &) = delete;
  HostWorkers &operator=(const HostWorkers &) = delete;

  // The threads a call may use, the calling thread included.
  unsigned threads() const override { return static_cast<unsigned>(workers_.size()) + 1; }
  // Calls part(i) for every i in [0, parts). Runs them all on the calling thread when there is one part, one
  // thread, or another call is in progress (replicas running on threads of their own); rethrows the first error.
  void run(std::size_t parts, const std::function<void(std::size_t)> &part) override;

private:
  void work();
  void drain(const std::function<void(std::size_t)> &part, std::size_t parts);

  std::vector<std::thread> workers_;
  std::mutex callMutex_;  // one call at a time; a nested or concurrent call runs inline
  std::mutex mutex_;      // guards the call below and the counts of who is in it
  std::condition_variable wake_, done_;
  std::atomic<std::uint64_t> generation_{0};  // one more for every call (and for stopping)
  bool open_ = false;      // a call is in progress: workers may join it
  bool stopping_ = false;
  const std::function<void(std::size_t)> *part_ = nullptr;
  std::size_t parts_ = 0;
  std::size_t joined_ = 0; // workers inside the current call
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> finished_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

} // namespace poplar_emulator
