#include "core/CycleModel.hpp"

#include <algorithm>

#include "core/Access.hpp"
#include "core/Layout.hpp"

namespace poplar_emulator {

StepCycles stepCycles(const StepNode &step, const GraphState &state) {
  StepAccess a;
  step.access(a);
  StepWork w = step.work();
  // A step works where its data lies: an element-wise op on its outputs' tiles, a reduction on its inputs' tiles
  // (partial sums there, then a small exchange to the output), so the work is spread over every tile it touches.
  std::set<unsigned> tiles;
  for (const auto *list : {&a.writes, &a.reads})
    for (const TensorLayout *t : *list) {
      std::set<unsigned> s = tilesOf(state, *t);
      tiles.insert(s.begin(), s.end());
    }
  double numTiles = static_cast<double>(std::max<std::size_t>(1, tiles.size()));
  double rate = w.unit == ComputeUnit::Amp ? (w.half ? kAmpHalfFlopsPerTileCycle : kAmpFloatFlopsPerTileCycle)
                                           : (w.half ? kVectorHalfFlopsPerTileCycle : kVectorFloatFlopsPerTileCycle);
  double clock = Access::clockHz(state.replicaTarget);
  StepCycles c;
  c.compute = w.flops / (rate * numTiles);
  c.exchange = w.exchangeBytes / (Access::exchangeBytesPerCycle(state.replicaTarget) * numTiles);
  c.ipuLink = w.ipuLinkBytes / (Access::ipuLinkBytesPerSecond(state.replicaTarget) / clock);
  c.host = w.hostBytes / (kHostBytesPerSecond / clock);
  c.sync = w.syncs * (w.externalSync ? kExternalSyncCycles : kInternalSyncCycles);
  return c;
}

} // namespace poplar_emulator
