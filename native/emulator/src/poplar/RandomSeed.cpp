#include <poplar/RandomSeed.hpp>
#include <poplar/exceptions.hpp>


#include "core/Access.hpp"
#include "core/Kernel.hpp"
#include "core/ReplicaContext.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {
namespace {

// One generator per replica stands for all its tiles: every row of the seeds tensor holds its state.
class HwSeedsStep : public StepNode {
public:
  HwSeedsStep(poplar::Tensor seeds, bool read, std::string name) : StepNode(std::move(name)), seeds_(seeds), read_(read) {}
  void access(StepAccess &a) const override { (read_ ? a.writes : a.reads).push_back(Access::impl(seeds_).get()); }
  StepWork work() const override { return StepWork(); }
  void run(ReplicaContext &r) const override {
    const TensorLayout &t = *Access::impl(seeds_);
    std::vector<std::uint32_t> words(t.numElements());
    if (read_) {
      std::array<std::uint32_t, 4> s = r.roundingRandom().state();
      for (std::size_t i = 0; i < words.size(); ++i) words[i] = s[i % 4];
      r.writeRaw(t, reinterpret_cast<const unsigned char *>(words.data()));
    } else {
      r.readRaw(t, reinterpret_cast<unsigned char *>(words.data()));
      r.roundingRandom().setState({words[0], words[1], words[2], words[3]});
    }
  }

private:
  poplar::Tensor seeds_;
  bool read_;
};

} // namespace
} // namespace poplar_emulator

namespace poplar {

Tensor getHwSeeds(Graph &graph, program::Sequence &prog, const DebugContext &debugContext) {
  unsigned tiles = graph.getTarget().getNumTiles();
  Tensor seeds = graph.addVariable(UNSIGNED_INT, {tiles, 4}, DebugContext(debugContext, "hwSeeds"));
  for (unsigned t = 0; t < tiles; ++t) graph.setTileMapping(seeds[t], t);
  poplar_emulator::appendStep(prog, std::make_shared<poplar_emulator::HwSeedsStep>(seeds, true, debugContext.getPathName()));
  return seeds;
}

void setHwSeeds(Graph &, const Tensor &hwSeeds, program::Sequence &prog, const DebugContext &debugContext) {
  if (!hwSeeds.valid() || hwSeeds.elementType() != UNSIGNED_INT || hwSeeds.rank() != 2 || hwSeeds.dim(1) != 4 ||
      hwSeeds.dim(0) == 0)
    throw poplar_error("poplar::setHwSeeds '" + debugContext.getPathName() +
                       "': the seeds must be an UNSIGNED_INT tensor of shape {tiles, 4}");
  poplar_emulator::appendStep(prog, std::make_shared<poplar_emulator::HwSeedsStep>(hwSeeds, false, debugContext.getPathName()));
}

} // namespace poplar
