#pragma once
// What an engine reports about itself: memory per IPU as compiled, and cycles per run; and the host threads it uses.
// For libft5's memory and traffic reports and estimated_cycles.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace poplar { class Engine; }

namespace poplar_emulator {

struct IpuMemory {
  unsigned ipu = 0;                 // within one replica
  std::size_t capacity = 0;         // tilesPerIPU * memoryBytesPerTile
  std::size_t alwaysLive = 0;       // constants, host-visible variables, values carried into a program
  std::size_t peakNotAlwaysLive = 0; // the most bytes of other variables live at one step
  std::size_t peakTemporary = 0;     // kernel scratch counted at that step
  std::string peakStep;              // the step where the peak is reached
  // The variables live at that step (not always-live), largest first, at most kPeakLiveListed of them.
  std::vector<std::pair<std::string, std::size_t>> peakLive;
  static constexpr std::size_t kPeakLiveListed = 12;
  std::size_t total() const { return alwaysLive + peakNotAlwaysLive + peakTemporary; }
};

struct MemoryReport {
  std::vector<IpuMemory> ipus;
  std::size_t remoteBufferBytes = 0; // streaming memory per replica
  std::vector<std::pair<std::string, std::size_t>> largestVariables; // name, bytes; largest first
};

// Cycle model, per step (one replica; replicas run in parallel):
//   compute  = flops / (rate * tiles), rate per tile per cycle: AMP 128 (half) / 32 (float),
//              vector 4 (half) / 2 (float); tiles = tiles holding the step's inputs or outputs
//   exchange = exchangeBytes / (exchangeBytesPerCycle * tiles)
//   ipuLink  = ipuLinkBytes / (320 GB/s / clock)
//   host     = hostBytes / (16 GB/s / clock)
//   sync     = syncs * 15 ns * (1 + IPUs / 4) (poplibs' test model: 15 ns a hop; IPUs = 1 for a sync within
//              one IPU, every IPU of the engine for an external one)
struct StepCycles {
  double compute = 0, exchange = 0, ipuLink = 0, host = 0, sync = 0;
  double total() const { return compute + exchange + ipuLink + host + sync; }
};

// A run's cycles: each IPU runs its steps one after another and the IPUs run in parallel, so a step starts when
// every IPU it uses is free (a copy between pipeline stages waits for both), and the run takes as long as its busiest
// IPU's timeline. On one IPU that is the sum over the steps.
struct CycleReport {
  StepCycles cycles;       // summed over the steps run
  double elapsed = 0;      // the run's length on the IPUs' timelines
  std::size_t stepsRun = 0;
  double ipuLinkBytes = 0;     // one replica's bytes over the IPU links (collectives, cross-replica copies)
  std::size_t linkSteps = 0;   // the steps run that moved bytes over the links
  double remoteBytes = 0;      // one replica's bytes copied to or from remote buffers (streaming memory)
  double total() const { return elapsed; }
};

constexpr double kAmpHalfFlopsPerTileCycle = 128;
constexpr double kAmpFloatFlopsPerTileCycle = 32;
constexpr double kVectorHalfFlopsPerTileCycle = 4;
constexpr double kVectorFloatFlopsPerTileCycle = 2;
constexpr double kHostBytesPerSecond = 16e9;
constexpr double kSyncSecondsPerHop = 15e-9;

// Host memory an engine holds for its variables, over the replicas run here: a variable that is not always live has
// storage over its live ranges only, so a run holds what the IPU would hold, not every variable at once.
struct HostStorage {
  std::size_t current = 0; // now (between runs: the always-live variables)
  std::size_t peak = 0;    // the most at any step since the engine was built
  std::size_t pooled = 0;  // freed storage kept for the next variable of its size; current + pooled <= peak
};

const MemoryReport &memoryReport(const poplar::Engine &engine);
HostStorage hostStorage(const poplar::Engine &engine);
const CycleReport &lastRunCycles(const poplar::Engine &engine);

// The host threads the engine's kernels share, the calling thread included (1 until set). The emulator's own
// setting, not the SDK's. Its matmuls then run one OpenBLAS call per thread, so OpenBLAS should run one thread
// (openblas_set_num_threads(1)). Results do not depend on it.
void setHostThreads(poplar::Engine &engine, unsigned threads);

} // namespace poplar_emulator
