// Memory as Poplar compiles it (liveness worked out by hand), engines that do not fit, and the cycle model.
#include <gtest/gtest.h>

#include <gcl/Collectives.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/exceptions.hpp>
#include <popops/ScaledAdd.hpp>
#include <poputil/TileMapping.hpp>

#include "TestSupport.hpp"
#include "core/Report.hpp"

namespace {

using emulator_test::fillKernel;
using emulator_test::smallDevice;

// A kernel reading `ins` and writing `out` (every output element set to the sum of input element 0s).
void combine(poplar::Graph &graph, poplar::program::Sequence &prog, std::vector<poplar::Tensor> ins, poplar::Tensor out,
             const std::string &name, std::size_t tempBytes = 0) {
  poplar_emulator::Kernel k;
  k.name = name;
  k.inputs = std::move(ins);
  k.outputs = {out};
  k.tempBytes = tempBytes;
  k.body = [](poplar_emulator::KernelIo &io) {
    float s = 0;
    for (std::size_t i = 0; i < io.numInputs(); ++i) s += io.input(i).floats[0];
    for (std::size_t i = 0; i < io.output(0).numElements; ++i) io.output(0).floats[i] = s;
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));
}

TEST(Memory, PeakIsAlwaysLivePlusLargestLiveSetWorkedOutByHand) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor c = graph.addConstant<float>(poplar::FLOAT, {100}, 1.0f, "c"); // 400 B, constant
  poplar::Tensor h = graph.addVariable(poplar::FLOAT, {50}, "h");               // 200 B, host-visible
  poplar::Tensor a = graph.addVariable(poplar::FLOAT, {1000}, "a");             // 4000 B
  poplar::Tensor b = graph.addVariable(poplar::FLOAT, {500}, "b");              // 2000 B
  poplar::Tensor t = graph.addVariable(poplar::FLOAT, {2000}, "t");             // 8000 B
  poplar::Tensor u = graph.addVariable(poplar::FLOAT, {250}, "u");              // 1000 B
  for (auto x : {c, h, a, b, t, u}) poputil::mapTensorLinearly(graph, x);
  graph.createHostRead("h", h);
  poplar::program::Sequence prog;
  fillKernel(graph, prog, a, 1, "s1");                  // live {a}                 4000
  combine(graph, prog, {a, c}, b, "s2");                // live {a, b}              6000
  fillKernel(graph, prog, t, 2, "s3");                  // live {b, t}             10000
  combine(graph, prog, {t, b}, h, "s4", 3000);          // live {b, t} + 3000 temp 13000: the peak
  prog.add(poplar::program::WriteUndef(u));             // u dead until written
  fillKernel(graph, prog, u.slice(0, 100), 3, "s6");    // live {u} (partial writes) 1000
  fillKernel(graph, prog, u.slice(100, 250), 4, "s7");  // live {u}                  1000
  combine(graph, prog, {u}, h, "s8");                   // live {u}                  1000
  poplar::Engine engine(graph, prog);
  const poplar_emulator::MemoryReport &m = poplar_emulator::memoryReport(engine);
  ASSERT_EQ(m.ipus.size(), 1u);
  EXPECT_EQ(m.ipus[0].alwaysLive, 600u); // c + h
  EXPECT_EQ(m.ipus[0].peakNotAlwaysLive, 10000u);
  EXPECT_EQ(m.ipus[0].peakTemporary, 3000u);
  EXPECT_EQ(m.ipus[0].peakStep, "s4");
  // what is live there, largest first: the planner is checked against these names
  using Live = std::vector<std::pair<std::string, std::size_t>>;
  EXPECT_EQ(m.ipus[0].peakLive, (Live{{"t", 8000u}, {"b", 2000u}}));
  EXPECT_EQ(m.ipus[0].total(), 13600u);
  EXPECT_EQ(m.ipus[0].capacity, 4u * 624 * 1024);
  EXPECT_EQ(m.largestVariables.front(), (std::pair<std::string, std::size_t>{"t", 8000}));
}


// The engine holds a variable's host storage over its live ranges only: between runs the always-live variables,
// during a run at most those plus the compiled peak's live set (the graph above, without the temporaries).
TEST(Memory, TheEngineHoldsHostStorageForAVariableOnlyWhileItIsLive) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor c = graph.addConstant<float>(poplar::FLOAT, {100}, 1.0f, "c");
  poplar::Tensor h = graph.addVariable(poplar::FLOAT, {50}, "h");
  poplar::Tensor a = graph.addVariable(poplar::FLOAT, {1000}, "a");
  poplar::Tensor b = graph.addVariable(poplar::FLOAT, {500}, "b");
  poplar::Tensor t = graph.addVariable(poplar::FLOAT, {2000}, "t");
  poplar::Tensor u = graph.addVariable(poplar::FLOAT, {250}, "u");
  for (auto x : {c, h, a, b, t, u}) poputil::mapTensorLinearly(graph, x);
  graph.createHostRead("h", h);
  poplar::program::Sequence prog;
  fillKernel(graph, prog, a, 1, "s1");
  combine(graph, prog, {a, c}, b, "s2");  // b = 2; a is dead after it
  fillKernel(graph, prog, t, 2, "s3");
  combine(graph, prog, {t, b}, h, "s4");  // h = 4; b and t are dead after it
  prog.add(poplar::program::WriteUndef(u));  // else u's first, partial write would keep it live from the start
  fillKernel(graph, prog, u.slice(0, 100), 3, "s6");
  fillKernel(graph, prog, u.slice(100, 250), 4, "s7");
  combine(graph, prog, {u, h}, h, "s8");  // h = u[0] + h[0] = 7
  poplar::Engine engine(graph, prog);
  engine.load(device);
  EXPECT_EQ(poplar_emulator::hostStorage(engine).current, 600u);  // c + h
  for (int run = 0; run < 2; ++run) {
    engine.run(0);
    EXPECT_EQ(emulator_test::readFloats(engine, "h", 50), std::vector<float>(50, 7.0f)) << "run " << run;
    EXPECT_EQ(poplar_emulator::hostStorage(engine).current, 600u) << "run " << run;
    EXPECT_EQ(poplar_emulator::hostStorage(engine).peak, 600u + 10000u) << "run " << run;  // {b, t} at s3 and s4
    // What it freed and keeps for the next run stays within the peak.
    EXPECT_LE(poplar_emulator::hostStorage(engine).current + poplar_emulator::hostStorage(engine).pooled,
              poplar_emulator::hostStorage(engine).peak) << "run " << run;
    EXPECT_GT(poplar_emulator::hostStorage(engine).pooled, 0u) << "run " << run;
  }
}

// A device runs one engine: loading another unloads the first, whose tensors are then gone (its host storage is
// freed) until it is loaded again.
TEST(Memory, LoadingAnotherEngineOntoTheDeviceUnloadsTheFirstAndFreesItsStorage) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor h = graph.addVariable(poplar::FLOAT, {1000}, "h");
  poputil::mapTensorLinearly(graph, h);
  graph.createHostWrite("h", h);
  graph.createHostRead("h", h);
  poplar::program::Sequence prog;
  combine(graph, prog, {h}, h, "h = h[0]");
  poplar::Engine first(graph, prog), second(graph, prog);
  first.load(device);
  std::vector<float> ones(1000, 1.0f);
  first.writeTensor("h", ones.data(), ones.data() + ones.size());
  first.run(0);
  EXPECT_EQ(poplar_emulator::hostStorage(first).current, 4000u);

  second.load(device);
  EXPECT_EQ(poplar_emulator::hostStorage(first).current, 0u);
  EXPECT_EQ(poplar_emulator::hostStorage(second).current, 4000u);
  std::vector<float> back(1000);
  try {
    first.run(0);
    ADD_FAILURE() << "an unloaded engine ran";
  } catch (const poplar::poplar_error &e) {
    EXPECT_NE(std::string(e.what()).find("another engine has been loaded"), std::string::npos) << e.what();
  }
  EXPECT_THROW(first.readTensor("h", back.data(), back.data() + back.size()), poplar::poplar_error);

  first.load(device);  // loaded again: runs, with its tensors to be written anew
  EXPECT_EQ(poplar_emulator::hostStorage(second).current, 0u);
  first.writeTensor("h", ones.data(), ones.data() + ones.size());
  first.run(0);
  first.readTensor("h", back.data(), back.data() + back.size());
  EXPECT_EQ(back, ones);
}

// An op that reads its output before writing it (here A += B) keeps the value written before it.
TEST(Memory, AnAccumulationReadsTheValueItsOutputHeldBefore) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor a = graph.addVariable(poplar::FLOAT, {1000}, "a");
  poplar::Tensor b = graph.addVariable(poplar::FLOAT, {1000}, "b");
  poplar::Tensor h = graph.addVariable(poplar::FLOAT, {10}, "h");
  for (auto x : {a, b, h}) poputil::mapTensorLinearly(graph, x);
  graph.createHostRead("h", h);
  poplar::program::Sequence prog;
  fillKernel(graph, prog, a, 1, "fill a");
  fillKernel(graph, prog, b, 2, "fill b");
  popops::scaledAddTo(graph, a, b, 3.0f, prog, "a += 3 b");
  combine(graph, prog, {a}, h, "h = a");
  poplar::Engine engine(graph, prog);
  engine.load(device);
  engine.run(0);
  EXPECT_EQ(emulator_test::readFloats(engine, "h", 10), std::vector<float>(10, 7.0f));
}
TEST(Memory, OnlyAWholeWriteOrWriteUndefEndsALiveRange) {
  // Without WriteUndef, u is written only in parts before it is read: its old value may be read, so it
  // is live on entry to the program, i.e. always live.
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor u = graph.addVariable(poplar::FLOAT, {250}, "u");
  poplar::Tensor big = graph.addVariable(poplar::FLOAT, {1000}, "big");
  poputil::mapTensorLinearly(graph, u);
  poputil::mapTensorLinearly(graph, big);
  poplar::program::Sequence prog;
  fillKernel(graph, prog, big, 1, "fillBig");              // live {big}: 4000 (u is always live)
  fillKernel(graph, prog, u.slice(0, 100), 3, "part1");
  fillKernel(graph, prog, u.slice(100, 250), 4, "part2");
  combine(graph, prog, {u, big}, big, "use");              // live {big}
  poplar::Engine engine(graph, prog);
  const auto &m = poplar_emulator::memoryReport(engine).ipus[0];
  EXPECT_EQ(m.alwaysLive, 1000u);
  EXPECT_EQ(m.peakNotAlwaysLive, 4000u);
}

TEST(Memory, AValueCarriedAroundALoopIsLiveThroughTheLoop) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {100}, "x");  // 400 B
  poplar::Tensor y = graph.addVariable(poplar::FLOAT, {1000}, "y"); // 4000 B
  poplar::Tensor z = graph.addVariable(poplar::FLOAT, {2000}, "z"); // 8000 B
  for (auto v : {x, y, z}) poputil::mapTensorLinearly(graph, v);
  poplar::program::Sequence body;
  combine(graph, body, {x}, y, "body/y");  // live {x, y}
  combine(graph, body, {y}, x, "body/x");  // live {x, y}; x is read again next iteration
  poplar::program::Sequence prog;
  fillKernel(graph, prog, x, 1, "init");
  prog.add(poplar::program::Repeat(4, body));
  fillKernel(graph, prog, z, 1, "after");  // live {z}: x and y are dead here
  combine(graph, prog, {z}, z, "useZ");
  poplar::Engine engine(graph, prog);
  const auto &m = poplar_emulator::memoryReport(engine).ipus[0];
  EXPECT_EQ(m.alwaysLive, 0u);
  EXPECT_EQ(m.peakNotAlwaysLive, 8000u);
  EXPECT_EQ(m.peakStep, "after");
}

TEST(Memory, AnEngineThatDoesNotFitNamesTheIpuBytesAndVariables) {
  // 2 IPUs of 4 tiles x 1 KiB: 4096 bytes each. IPU 1 gets 5000 bytes of always-live weights.
  poplar::Device device = smallDevice(2, 4, 1024);
  poplar::Graph graph(device.getTarget());
  poplar::Graph ipu1 = graph.createVirtualGraph(4, 8);
  poplar::Tensor w = ipu1.addVariable(poplar::FLOAT, {1000}, "decoder/lm_head/weight");
  poplar::Tensor s = ipu1.addVariable(poplar::FLOAT, {250}, "decoder/lm_head/bias");
  poplar::Tensor small = graph.addVariable(poplar::FLOAT, {10}, "small");
  poputil::mapTensorLinearly(ipu1, w);
  poputil::mapTensorLinearly(ipu1, s);
  graph.setTileMapping(small, 0);
  graph.createHostWrite("w", w);
  graph.createHostWrite("s", s);
  try {
    poplar::Engine engine(graph, poplar::program::Sequence());
    FAIL() << "expected graph_memory_allocation_error";
  } catch (const poplar::graph_memory_allocation_error &e) {
    std::string what = e.what();
    EXPECT_NE(what.find("IPU 1"), std::string::npos) << what;
    EXPECT_NE(what.find("needs 5000 bytes"), std::string::npos) << what;
    EXPECT_NE(what.find("4096 bytes free"), std::string::npos) << what;
    EXPECT_NE(what.find("'decoder/lm_head/weight' 4000 bytes"), std::string::npos) << what;
    EXPECT_EQ(what.find("small"), std::string::npos) << what; // IPU 0's variable is not listed
  }
  // The same graph with 2 KiB tiles fits.
  poplar::Device bigger = smallDevice(2, 4, 2048);
  poplar::Graph g2(bigger.getTarget());
  poplar::Tensor w2 = g2.createVirtualGraph(4, 8).addVariable(poplar::FLOAT, {1000}, "w");
  g2.setTileMapping(w2, 5);
  EXPECT_NO_THROW(poplar::Engine(g2, poplar::program::Sequence()));
}

TEST(Memory, KernelTemporariesCanMakeAnEngineFail) {
  poplar::Device device = smallDevice(1, 2, 1024); // 2048 bytes
  poplar::Graph graph(device.getTarget());
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {100}, "x"); // 400 B
  graph.setTileMapping(x, 0);
  poplar::program::Sequence fits, tooBig;
  combine(graph, fits, {x}, x, "small", 1600);       // 400 + 1600 = 2000 <= 2048
  combine(graph, tooBig, {x}, x, "matmul/partials", 1700); // 2100 > 2048
  EXPECT_NO_THROW(poplar::Engine(graph, fits));
  try {
    poplar::Engine engine(graph, tooBig);
    FAIL();
  } catch (const poplar::graph_memory_allocation_error &e) {
    EXPECT_NE(std::string(e.what()).find("matmul/partials"), std::string::npos) << e.what();
  }
}

TEST(Cycles, EstimateFollowsTheDocumentedModel) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor out = graph.addVariable(poplar::HALF, {64}, "out");
  graph.setTileMapping(out.slice(0, 32), 1);
  graph.setTileMapping(out.slice(32, 64), 2); // outputs on 2 tiles
  poplar::Tensor in = graph.addVariable(poplar::FLOAT, {16}, "in");
  graph.setTileMapping(in, 0);
  poplar::DataStream s = graph.addHostToDeviceFIFO("in", poplar::FLOAT, 16);
  poplar::program::Sequence body;
  poplar_emulator::Kernel k;
  k.name = "mm";
  k.outputs = {out};
  k.cost.flops = 1e6;
  k.cost.unit = poplar_emulator::ComputeUnit::Amp;
  k.cost.half = true;
  k.cost.exchangeBytes = 4096;
  k.body = [](poplar_emulator::KernelIo &) {};
  poplar_emulator::addKernel(graph, body, std::move(k));
  poplar::program::Sequence prog;
  prog.add(poplar::program::Copy(s, in));
  prog.add(poplar::program::Repeat(3, body));
  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> host(16);
  engine.connectStream("in", host.data());
  engine.run(0);
  const poplar_emulator::CycleReport &c = poplar_emulator::lastRunCycles(engine);
  // A sync on one IPU: 15 ns (one hop) at 1.33 GHz.
  const double sync = 15e-9 * 1.33e9;
  // mm: 1e6 / (128 * 2) + 4096 / (4 * 2) + a sync per run, 3 runs.
  double mm = 1e6 / (128.0 * 2) + 4096.0 / (4 * 2) + sync;
  // Stream copy: 64 bytes at 16 GB/s with a 1.33 GHz clock (1 tile), external sync, no compute.
  double copy = 64.0 / (16e9 / 1.33e9) + sync;
  EXPECT_EQ(c.stepsRun, 4u);
  EXPECT_NEAR(c.total(), 3 * mm + copy, 1e-9 * (3 * mm + copy));
  EXPECT_NEAR(c.cycles.compute, 3 * 1e6 / 256.0, 1e-6);
  EXPECT_NEAR(c.cycles.sync, 4 * sync, 1e-9);
}

TEST(Cycles, IpusRunTheirStepsInParallelAndAStepTouchingTwoWaitsForBoth) {
  // Two IPUs of 2 tiles: a step on IPU 0, one on IPU 1 (they overlap), then a step reading both (it starts when the
  // slower is done), then another on IPU 0.
  poplar::Device device = smallDevice(2, 2);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor a = graph.addVariable(poplar::FLOAT, {8}, "a"), b = graph.addVariable(poplar::FLOAT, {8}, "b");
  graph.setTileMapping(a, 0);
  graph.setTileMapping(b, 2);
  poplar::program::Sequence prog;
  auto step = [&](std::vector<poplar::Tensor> outs, std::vector<poplar::Tensor> ins, double flops, const char *name) {
    poplar_emulator::Kernel k;
    k.name = name;
    k.inputs = std::move(ins);
    k.outputs = std::move(outs);
    k.cost.flops = flops;
    k.cost.unit = poplar_emulator::ComputeUnit::Vector;
    k.body = [](poplar_emulator::KernelIo &) {};
    poplar_emulator::addKernel(graph, prog, std::move(k));
  };
  step({a}, {}, 2000, "on0");      // 1000 cycles at 2 flops per tile-cycle on one tile
  step({b}, {}, 6000, "on1");      // 3000 cycles on IPU 1, beside it
  step({a}, {b}, 4000, "both");    // 1000 cycles on 2 tiles, after both
  step({a}, {}, 2000, "on0again"); // 1000 more on IPU 0
  poplar::Engine engine(graph, prog);
  engine.load(device);
  engine.run(0);
  const poplar_emulator::CycleReport &c = poplar_emulator::lastRunCycles(engine);
  // Each step also exchanges its tensors (32 bytes a tile at 4 bytes per tile-cycle: 8 cycles) and syncs once; "both"
  // reads b's 32 bytes from IPU 1 over the IPU links (320 GB/s) instead, and exchanges only a's over its 2 tiles.
  const double sync = 15e-9 * 1.33e9, extra = 8 + sync, link = 32 / (320e9 / 1.33e9);
  EXPECT_NEAR(c.cycles.compute, 1000 + 3000 + 1000 + 1000, 1e-6);
  EXPECT_NEAR(c.total(), (3000 + extra) + (1000 + 4 + link + sync) + (1000 + extra), 1e-6);
  EXPECT_DOUBLE_EQ(c.ipuLinkBytes, 32);
  EXPECT_EQ(c.linkSteps, 1u);
  EXPECT_LT(c.total(), c.cycles.total());
}

TEST(Cycles, AnOpReadingAnotherIpusTensorMovesItOverTheLinks) {
  // popops::scaledAddTo on IPU 0 reading an operand held on IPU 1: the SDK exchanges the operand between the IPUs
  // (an implicit inter-IPU copy); with the operand on IPU 0 nothing crosses.
  poplar::Device device = smallDevice(2, 2);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor acc = graph.addVariable(poplar::FLOAT, {16}, "acc");
  poplar::Tensor far = graph.addVariable(poplar::FLOAT, {16}, "far"), near = graph.addVariable(poplar::FLOAT, {16}, "near");
  graph.setTileMapping(acc, 0);
  graph.setTileMapping(far, 3);
  graph.setTileMapping(near, 1);
  poplar::program::Sequence across, within;
  popops::scaledAddTo(graph, acc, far, 1.0f, across, "across");
  popops::scaledAddTo(graph, acc, near, 1.0f, within, "within");
  poplar::Engine engine(graph, {across, within});
  engine.load(device);
  engine.run(0);
  EXPECT_DOUBLE_EQ(poplar_emulator::lastRunCycles(engine).ipuLinkBytes, 16 * 4);
  engine.run(1);
  EXPECT_DOUBLE_EQ(poplar_emulator::lastRunCycles(engine).ipuLinkBytes, 0);
}

TEST(Cycles, AReductionSpreadsItsWorkOverTheTilesOfItsInput) {
  poplar::Device device = smallDevice(1, 4);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor in = graph.addVariable(poplar::FLOAT, {64}, "in");
  for (unsigned t = 0; t < 4; ++t) graph.setTileMapping(in.slice(16 * t, 16 * (t + 1)), t);
  poplar::Tensor sum = graph.addVariable(poplar::FLOAT, {}, "sum");
  graph.setTileMapping(sum, 0); // the result on one tile, the work on the four that hold the input
  poplar::program::Sequence prog;
  poplar_emulator::Kernel k;
  k.name = "reduce";
  k.inputs = {in};
  k.outputs = {sum};
  k.cost.flops = 64;
  k.cost.unit = poplar_emulator::ComputeUnit::Vector;
  k.cost.exchangeBytes = 4 * 4; // one partial per tile
  k.body = [](poplar_emulator::KernelIo &) {};
  poplar_emulator::addKernel(graph, prog, std::move(k));
  poplar::Engine engine(graph, prog);
  engine.load(device);
  engine.run(0);
  const poplar_emulator::CycleReport &c = poplar_emulator::lastRunCycles(engine);
  EXPECT_NEAR(c.cycles.compute, 64.0 / (2 * 4), 1e-9);
  EXPECT_NEAR(c.cycles.exchange, 16.0 / (4 * 4), 1e-9);
}

TEST(Cycles, ARunReportsTheBytesItsCollectivesMovedOverTheLinks) {
  poplar::Device device = smallDevice(4, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(4));
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {6}, "x");
  graph.setTileMapping(x, 0);
  graph.createHostWrite("x", x);
  poplar::program::Sequence reduce, local;
  gcl::allReduceInPlaceCrossReplica(graph, x, gcl::ADD, reduce, gcl::CommGroup(gcl::ALL, 4), "sum");
  popops::scaledAddTo(graph, x, x, 2.0f, local, "local");
  poplar::Engine engine(graph, {reduce, local});
  engine.load(device);
  engine.run(0);
  const poplar_emulator::CycleReport &c = poplar_emulator::lastRunCycles(engine);
  // a ring all-reduce sends 2 (n - 1) / n of the tensor from each replica
  EXPECT_NEAR(c.ipuLinkBytes, 24.0 * 2 * 3 / 4, 1e-9);
  EXPECT_EQ(c.linkSteps, 1u);
  engine.run(1);
  EXPECT_EQ(poplar_emulator::lastRunCycles(engine).ipuLinkBytes, 0.0);
  EXPECT_EQ(poplar_emulator::lastRunCycles(engine).linkSteps, 0u);
}

TEST(Cycles, ACopyBetweenTheIpusOfOneReplicaGoesOverTheLinks) {
  poplar::Device device = smallDevice(2, 2);  // one replica of 2 IPUs: two pipeline stages
  poplar::Graph graph(device.getTarget());
  const unsigned tiles = graph.getTarget().getTilesPerIPU();
  poplar::Graph first = graph.createVirtualGraph(0, tiles), second = graph.createVirtualGraph(tiles, 2 * tiles);
  poplar::Tensor a = first.addVariable(poplar::FLOAT, {6}, poplar::VariableMappingMethod::LINEAR, "a");
  poplar::Tensor near = first.addVariable(poplar::FLOAT, {6}, poplar::VariableMappingMethod::LINEAR, "near");
  poplar::Tensor far = second.addVariable(poplar::FLOAT, {6}, poplar::VariableMappingMethod::LINEAR, "far");
  graph.createHostWrite("a", a);
  graph.createHostRead("near", near);
  graph.createHostRead("far", far);
  poplar::program::Sequence across, within, half;
  across.add(poplar::program::Copy(a, far));
  within.add(poplar::program::Copy(a, near));
  // half of it crosses: the first half of `a` into the first half of `far`, the second into `near`
  half.add(poplar::program::Copy(poplar::concat(a.slice(0, 3), a.slice(3, 6)),
                                 poplar::concat(far.slice(0, 3), near.slice(3, 6))));
  poplar::Engine engine(graph, {across, within, half});
  engine.load(device);
  engine.run(0);
  EXPECT_EQ(poplar_emulator::lastRunCycles(engine).ipuLinkBytes, 24.0);
  EXPECT_EQ(poplar_emulator::lastRunCycles(engine).linkSteps, 1u);
  engine.run(1);
  EXPECT_EQ(poplar_emulator::lastRunCycles(engine).ipuLinkBytes, 0.0);
  engine.run(2);
  EXPECT_EQ(poplar_emulator::lastRunCycles(engine).ipuLinkBytes, 12.0);
}

} // namespace
