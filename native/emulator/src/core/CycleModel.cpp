#include "core/CycleModel.hpp"

#include <algorithm>

#include "core/Access.hpp"
#include "core/Layout.hpp"

namespace poplar_emulator {

namespace {

// A step works where its data lies: an element-wise op on its outputs' tiles, a reduction on its inputs' tiles
// (partial sums there, then a small exchange to the output), so the work is spread over every tile it touches.
std::set<unsigned> stepTiles(const StepNode &step, const GraphState &state) {
  StepAccess a;
  step.access(a);
  std::set<unsigned> tiles;
  for (const auto *list : {&a.writes, &a.reads})
    for (const TensorLayout *t : *list) {
      std::set<unsigned> s = tilesOf(state, *t);
      tiles.insert(s.begin(), s.end());
    }
  return tiles;
}

} // namespace

std::vector<unsigned> stepIpus(const StepNode &step, const GraphState &state) {
  const unsigned perIpu = state.replicaTarget.getTilesPerIPU(), ipus = state.replicaTarget.getNumIPUs();
  std::set<unsigned> used;
  for (unsigned tile : stepTiles(step, state)) used.insert(std::min(ipus - 1, tile / perIpu));
  if (used.empty())
    for (unsigned i = 0; i < ipus; ++i) used.insert(i);
  return {used.begin(), used.end()};
}

StepCycles stepCycles(const StepNode &step, const GraphState &state) {
  StepWork w = step.work();
  const std::set<unsigned> tiles = stepTiles(step, state);
  double numTiles = static_cast<double>(std::max<std::size_t>(1, tiles.size()));
  double rate = w.unit == ComputeUnit::Amp ? (w.half ? kAmpHalfFlopsPerTileCycle : kAmpFloatFlopsPerTileCycle)
                                           : (w.half ? kVectorHalfFlopsPerTileCycle : kVectorFloatFlopsPerTileCycle);
  double clock = Access::clockHz(state.replicaTarget);
  StepCycles c;
  c.compute = w.flops / (rate * numTiles);
  c.exchange = w.exchangeBytes / (Access::exchangeBytesPerCycle(state.replicaTarget) * numTiles);
  c.ipuLink = w.ipuLinkBytes / (Access::ipuLinkBytesPerSecond(state.replicaTarget) / clock);
  c.host = w.hostBytes / (kHostBytesPerSecond / clock);
  const unsigned ipus = w.externalSync ? state.replicaTarget.getNumIPUs() * state.replicationFactor : 1;
  c.sync = w.syncs * kSyncSecondsPerHop * clock * (1.0 + static_cast<double>(ipus / 4));
  return c;
}

} // namespace poplar_emulator
