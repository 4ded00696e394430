// Emulated Poplar SDK: poplin::PlanningCache (declared here, as in the SDK). The emulator's
// matmuls need no plan search; the cache records each distinct matmul planned through it.
#ifndef POPLIN_CONVOLUTION_HPP
#define POPLIN_CONVOLUTION_HPP

#include <cstddef>
#include <memory>

namespace poplar_emulator {
struct PlanningCacheAccess;
}

namespace poplin {

class PlanningCache {
public:
  PlanningCache();
  ~PlanningCache();
  PlanningCache(const PlanningCache &) = delete;
  PlanningCache &operator=(const PlanningCache &) = delete;
  // The number of distinct plans held.
  std::size_t size() const;

private:
  friend struct poplar_emulator::PlanningCacheAccess;
  struct Plans;
  std::unique_ptr<Plans> plans_;
};

} // namespace poplin

#endif
