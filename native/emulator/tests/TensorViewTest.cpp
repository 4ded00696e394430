// Tensors are views: every view op aliases its variables, and writes through a view land in them.
#include <gtest/gtest.h>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poputil/TileMapping.hpp>

#include "TestSupport.hpp"

namespace {

using emulator_test::fillKernel;
using emulator_test::iota;
using emulator_test::mapKernel;
using emulator_test::readFloats;
using emulator_test::smallDevice;

struct ViewFixture {
  poplar::Device device = smallDevice();
  poplar::Graph graph{device.getTarget()};
  poplar::Tensor v = graph.addVariable(poplar::FLOAT, {2, 3, 4}, "v");
  poplar::program::Sequence prog;
  ViewFixture() {
    poputil::mapTensorLinearly(graph, v);
    graph.createHostWrite("v", v);
    graph.createHostRead("v", v);
  }
  // Runs prog after writing 0..23 into v; returns v.
  std::vector<float> run() {
    poplar::Engine engine(graph, prog);
    engine.load(device);
    std::vector<float> init = iota(24);
    engine.writeTensor("v", init.data(), init.data() + init.size());
    engine.run(0);
    return readFloats(engine, "v", 24);
  }
};

TEST(TensorViews, ShapesFollowTheSdk) {
  ViewFixture f;
  EXPECT_EQ(f.v.slice(1, 3, 1).shape(), (std::vector<std::size_t>{2, 2, 4}));
  EXPECT_EQ(f.v.dimShuffle({2, 0, 1}).shape(), (std::vector<std::size_t>{4, 2, 3}));
  EXPECT_EQ(f.v.dimRoll(2, 0).shape(), (std::vector<std::size_t>{4, 2, 3}));
  EXPECT_EQ(f.v.reshape({6, 4}).transpose().shape(), (std::vector<std::size_t>{4, 6}));
  EXPECT_EQ(f.v[1].shape(), (std::vector<std::size_t>{3, 4}));
  EXPECT_EQ(f.v.expand({0}).shape(), (std::vector<std::size_t>{1, 2, 3, 4}));
  EXPECT_EQ(f.v.expand({0}).squeeze({0}).shape(), f.v.shape());
  EXPECT_EQ(f.v.broadcast(3, 0).shape(), (std::vector<std::size_t>{6, 3, 4}));
  EXPECT_EQ(f.v.flatten(1, 3).shape(), (std::vector<std::size_t>{2, 12}));
  EXPECT_EQ(poplar::concat(f.v, f.v, 2).shape(), (std::vector<std::size_t>{2, 3, 8}));
  EXPECT_EQ(f.v.subSample(2, 2).shape(), (std::vector<std::size_t>{2, 3, 2}));
  EXPECT_TRUE(f.v.isContiguous());
  EXPECT_FALSE(f.v.dimShuffle({2, 1, 0}).isContiguous());
  EXPECT_TRUE(f.v.broadcast(2, 0).containsAliases());
  EXPECT_FALSE(f.v.containsAliases());
  EXPECT_TRUE(f.v.slice(0, 1).intersectsWith(f.v.reshape({24}).slice(0, 5)));
  EXPECT_FALSE(f.v.slice(0, 1).intersectsWith(f.v.slice(1, 2)));
  EXPECT_TRUE(f.v.dimShuffle({1, 0, 2}).dimShuffle({1, 0, 2}) == f.v);
  EXPECT_THROW(f.v.slice(2, 4, 1), poplar::poplar_error);
  EXPECT_THROW(f.v.reshape({5, 5}), poplar::poplar_error);
}

TEST(TensorViews, WriteThroughSliceLandsInVariable) {
  ViewFixture f;
  fillKernel(f.graph, f.prog, f.v.slice(1, 2, 1), -1.0f); // v[:, 1, :]
  std::vector<float> got = f.run();
  for (std::size_t i = 0; i < 24; ++i) {
    std::size_t j = (i / 4) % 3;
    EXPECT_EQ(got[i], j == 1 ? -1.0f : static_cast<float>(i)) << i;
  }
}

TEST(TensorViews, WriteThroughTransposeAndReverseLandsInVariable) {
  ViewFixture f;
  // t[a][b] = v.flat[b*4 + a] for a in 0..3, b in 0..5; write t[a][b] = 100*a + b.
  poplar::Tensor t = f.v.reshape({6, 4}).transpose();
  poplar_emulator::Kernel k;
  k.name = "test/writeTransposed";
  k.outputs = {t.reverse(1).reverse(1)};
  k.body = [](poplar_emulator::KernelIo &io) {
    for (std::size_t a = 0; a < 4; ++a)
      for (std::size_t b = 0; b < 6; ++b) io.output(0).floats[a * 6 + b] = static_cast<float>(100 * a + b);
  };
  poplar_emulator::addKernel(f.graph, f.prog, std::move(k));
  std::vector<float> got = f.run();
  for (std::size_t b = 0; b < 6; ++b)
    for (std::size_t a = 0; a < 4; ++a) EXPECT_EQ(got[b * 4 + a], static_cast<float>(100 * a + b));
}

TEST(TensorViews, ReadsThroughBroadcastConcatAndSubSampleSeeVariableValues) {
  ViewFixture f;
  poplar::Tensor out = f.graph.addVariable(poplar::FLOAT, {12}, "out");
  f.graph.setTileMapping(out, 3);
  f.graph.createHostRead("out", out);
  // [v[0,0,0:2], v[1,2,0:4:2] twice, v[0,1,3] broadcast 6 times]
  poplar::Tensor a = f.v[0][0].slice(0, 2);
  poplar::Tensor b = f.v[1][2].subSample(2, 0).broadcast(2, 0);
  poplar::Tensor c = f.v[0][1].slice(3, 4).broadcast(6, 0);
  mapKernel(f.graph, f.prog, poplar::concat({a, b, c}), out, [](float x) { return x; });
  poplar::Engine engine(f.graph, f.prog);
  engine.load(f.device);
  std::vector<float> init = iota(24);
  engine.writeTensor("v", init.data(), init.data() + init.size());
  engine.run(0);
  EXPECT_EQ(readFloats(engine, "out", 12), (std::vector<float>{0, 1, 20, 22, 20, 22, 7, 7, 7, 7, 7, 7}));
}

TEST(TensorViews, InPlaceUpdateThroughDimShuffleAliasesTheVariable) {
  ViewFixture f;
  poplar::Tensor s = f.v.dimShuffle({2, 0, 1}).slice(1, 3, 0); // v[:, :, 1:3] reordered
  mapKernel(f.graph, f.prog, s, s, [](float x) { return x * 10; });
  std::vector<float> got = f.run();
  for (std::size_t i = 0; i < 24; ++i) {
    bool touched = i % 4 == 1 || i % 4 == 2;
    EXPECT_EQ(got[i], touched ? 10.0f * static_cast<float>(i) : static_cast<float>(i)) << i;
  }
}

TEST(TensorViews, TileMappingIsReportedInTheViewsOrder) {
  ViewFixture f;
  poplar::Tensor w = f.graph.addVariable(poplar::FLOAT, {2, 2}, "w");
  f.graph.setTileMapping(w[0], 2);
  f.graph.setTileMapping(w[1], 1);
  auto m = f.graph.getTileMapping(w.transpose());
  ASSERT_EQ(m.size(), 4u);
  // w.transpose() is [w00, w10, w01, w11]: elements 0 and 2 on tile 2, 1 and 3 on tile 1.
  EXPECT_EQ(m[2], (std::vector<poplar::Interval>{{0, 1}, {2, 3}}));
  EXPECT_EQ(m[1], (std::vector<poplar::Interval>{{1, 2}, {3, 4}}));
  EXPECT_TRUE(m[0].empty() && m[3].empty());
}

TEST(TensorViews, UnmappedVariableFailsEngineConstructionNamingIt) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {4, 2}, "layer0/weights");
  graph.setTileMapping(x.slice(0, 3), 0); // one row left unmapped
  poplar::program::Sequence prog;
  try {
    poplar::Engine engine(graph, prog);
    FAIL() << "expected poplar_error";
  } catch (const poplar::poplar_error &e) {
    std::string what = e.what();
    EXPECT_NE(what.find("layer0/weights"), std::string::npos) << what;
    EXPECT_NE(what.find("2 of 8 elements"), std::string::npos) << what;
  }
}

TEST(TensorViews, VirtualGraphIsATileRangeOfOneIpu) {
  poplar::Device device = smallDevice(2, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Graph ipu1 = graph.createVirtualGraph(4, 8);
  EXPECT_EQ(ipu1.getTarget().getNumIPUs(), 1u);
  EXPECT_EQ(ipu1.getTarget().getTilesPerIPU(), 4u);
  poplar::Tensor t = ipu1.addVariable(poplar::FLOAT, {8}, "t");
  poputil::mapTensorLinearly(ipu1, t);
  // In the top-level graph the elements sit on tiles 4..7 (IPU 1).
  auto m = graph.getTileMapping(t);
  for (unsigned tile = 0; tile < 4; ++tile) EXPECT_TRUE(m[tile].empty()) << tile;
  std::size_t onIpu1 = 0;
  for (unsigned tile = 4; tile < 8; ++tile)
    for (const auto &iv : m[tile]) onIpu1 += iv.size();
  EXPECT_EQ(onIpu1, 8u);
  EXPECT_THROW(ipu1.setTileMapping(t, 4), poplar::poplar_error);
}

} // namespace
