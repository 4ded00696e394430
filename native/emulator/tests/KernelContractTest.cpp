// The path every emulated library op takes: a kernel in a Sequence, run by an Engine.
#include <gtest/gtest.h>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>

#include "core/Kernel.hpp"

namespace {

poplar::Device smallDevice(unsigned numIPUs = 1, unsigned tiles = 4) {
  poplar::IPUModel model;
  model.numIPUs = numIPUs;
  model.tilesPerIPU = tiles;
  poplar::Device d = model.createDevice();
  d.attach();
  return d;
}

TEST(KernelContract, KernelRunsOnWrittenVariablesAndResultsReadBack) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor a = graph.addVariable(poplar::FLOAT, {2, 3}, "a");
  poplar::Tensor b = graph.addVariable(poplar::HALF, {2, 3}, "b");
  poplar::Tensor out = graph.addVariable(poplar::FLOAT, {2, 3}, "out");
  graph.setTileMapping(a, 0);
  graph.setTileMapping(b, 1);
  graph.setTileMapping(out, 2);
  graph.createHostWrite("a", a);
  graph.createHostWrite("b", b);
  graph.createHostRead("out", out);

  poplar::program::Sequence prog;
  poplar_emulator::Kernel k;
  k.name = "test/add";
  k.inputs = {a, b.transpose().transpose()}; // a non-trivial view must gather correctly
  k.outputs = {out};
  k.cost.flops = 6;
  k.body = [](poplar_emulator::KernelIo &io) {
    const float *x = io.input(0).floats;
    const float *y = io.input(1).floats;
    float *z = io.output(0).floats;
    for (std::size_t i = 0; i < io.output(0).numElements; ++i) z[i] = x[i] + y[i];
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));

  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> av{1, 2, 3, 4, 5, 6};
  // 0.5, 1.0, 1.5, -2.0, 0.25, 1024 in binary16.
  std::vector<uint16_t> bv{0x3800, 0x3c00, 0x3e00, 0xc000, 0x3400, 0x6400};
  engine.writeTensor("a", av.data(), av.data() + av.size());
  engine.writeTensor("b", bv.data(), bv.data() + bv.size());
  engine.run(0);
  std::vector<float> result(6);
  engine.readTensor("out", result.data(), result.data() + result.size());
  // Every value is exact in float: the sums must be exact.
  EXPECT_EQ(result, (std::vector<float>{1.5f, 3.0f, 4.5f, 2.0f, 5.25f, 1030.0f}));
}

} // namespace
