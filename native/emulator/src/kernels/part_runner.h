#pragma once
// How a kernel over plain arrays splits its work: into independent parts that a PartRunner runs, in parallel where
// it has threads (the engine's host workers, core/HostWorkers.hpp). A part computes the same values whichever
// thread runs it, so a run is reproducible for a given thread count. Maps, reductions and non-linearities give the
// same bits on any thread count; a matmul split into bands of rows may differ in the last bits, as OpenBLAS's
// result for a row can depend on the rows it is computed with (its Haswell kernels).
#include <cstddef>
#include <functional>
#include <utility>

namespace poplar_emulator {

class PartRunner {
public:
  virtual ~PartRunner() = default;
  // The threads a call may use, the calling thread included.
  virtual unsigned threads() const = 0;
  // Calls part(i) for every i in [0, parts) and returns when all are done; rethrows the first error.
  virtual void run(std::size_t parts, const std::function<void(std::size_t)> &part) = 0;
};

// [begin, end) of part `part` when `count` items are split into `parts` nearly equal parts.
inline std::pair<std::size_t, std::size_t> partRange(std::size_t count, std::size_t parts, std::size_t part) {
  return {count * part / parts, count * (part + 1) / parts};
}

} // namespace poplar_emulator
