// Programs run in order: Sequence, Repeat, If, RepeatWhile, Call, Sync, WriteUndef, CrossReplicaCopy.
#include <gtest/gtest.h>

#include <poplar/Engine.hpp>
#include <poplar/CSRFunctions.hpp>
#include <poplar/Graph.hpp>
#include <poputil/TileMapping.hpp>

#include "TestSupport.hpp"

namespace {

using emulator_test::fillKernel;
using emulator_test::mapKernel;
using emulator_test::readFloats;
using emulator_test::smallDevice;

struct Scalar {
  poplar::Device device = smallDevice();
  poplar::Graph graph{device.getTarget()};
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {1}, "x");
  Scalar() {
    graph.setTileMapping(x, 0);
    graph.createHostRead("x", x);
    graph.createHostWrite("x", x);
  }
};

TEST(Programs, SequenceRunsInOrderAndRepeatRepeats) {
  Scalar s;
  poplar::program::Sequence body;
  mapKernel(s.graph, body, s.x, s.x, [](float v) { return v * 2; }, "double");
  poplar::program::Sequence prog;
  fillKernel(s.graph, prog, s.x, 3);
  mapKernel(s.graph, prog, s.x, s.x, [](float v) { return v + 1; }, "inc");
  prog.add(poplar::program::Repeat(3, body));
  poplar::Engine engine(s.graph, prog);
  engine.load(s.device);
  engine.run(0);
  // ((3 + 1) * 2 * 2 * 2): the order of fill, inc and the repeated doubling matters.
  EXPECT_EQ(readFloats(engine, "x", 1)[0], 32.0f);
}

TEST(Programs, ProgramsAreValuesACopyDoesNotSeeLaterAdds) {
  Scalar s;
  poplar::program::Sequence seq;
  fillKernel(s.graph, seq, s.x, 1);
  poplar::program::Program snapshot = seq;
  mapKernel(s.graph, seq, s.x, s.x, [](float v) { return v + 5; }, "late");
  poplar::Engine engine(s.graph, {snapshot, seq});
  engine.load(s.device);
  engine.run(0);
  EXPECT_EQ(readFloats(engine, "x", 1)[0], 1.0f);
  engine.run(1);
  EXPECT_EQ(readFloats(engine, "x", 1)[0], 6.0f);
}

TEST(Programs, IfTakesTheBranchOfItsPredicateAtRunTime) {
  Scalar s;
  poplar::Tensor flag = s.graph.addVariable(poplar::BOOL, {}, "flag");
  s.graph.setTileMapping(flag, 1);
  s.graph.createHostWrite("flag", flag);
  poplar::program::Sequence yes, no;
  fillKernel(s.graph, yes, s.x, 10);
  fillKernel(s.graph, no, s.x, 20);
  poplar::Engine engine(s.graph, poplar::program::If(flag, yes, no));
  engine.load(s.device);
  for (unsigned char f : {1, 0}) {
    engine.writeTensor("flag", &f, &f + 1);
    engine.run(0);
    EXPECT_EQ(readFloats(engine, "x", 1)[0], f ? 10.0f : 20.0f);
  }
}

TEST(Programs, RepeatWhileTrueLoopsUntilThePredicateClears) {
  Scalar s;
  poplar::Tensor more = s.graph.addVariable(poplar::BOOL, {}, "more");
  s.graph.setTileMapping(more, 1);
  poplar::program::Sequence cond;
  poplar_emulator::Kernel k;
  k.name = "cond";
  k.inputs = {s.x};
  k.outputs = {more};
  k.body = [](poplar_emulator::KernelIo &io) { *io.output(0).as<unsigned char>() = io.input(0).floats[0] < 100 ? 1 : 0; };
  poplar_emulator::addKernel(s.graph, cond, std::move(k));
  poplar::program::Sequence body;
  mapKernel(s.graph, body, s.x, s.x, [](float v) { return v * 3; });
  poplar::program::Sequence prog;
  fillKernel(s.graph, prog, s.x, 1);
  prog.add(poplar::program::RepeatWhileTrue(cond, more, body));
  poplar::Engine engine(s.graph, prog);
  engine.load(s.device);
  engine.run(0);
  EXPECT_EQ(readFloats(engine, "x", 1)[0], 243.0f); // 1, 3, 9, 27, 81, 243: the first value >= 100
}

TEST(Programs, CallRunsTheFunctionBodyEachTime) {
  Scalar s;
  poplar::program::Sequence body;
  mapKernel(s.graph, body, s.x, s.x, [](float v) { return v + 7; });
  poplar::Function f = s.graph.addFunction(body);
  poplar::program::Sequence prog;
  fillKernel(s.graph, prog, s.x, 0);
  prog.add(poplar::program::Call(f));
  prog.add(poplar::program::Sync(poplar::SyncType::GLOBAL));
  prog.add(poplar::program::Call(f));
  poplar::Engine engine(s.graph, prog);
  engine.load(s.device);
  engine.run(0);
  EXPECT_EQ(readFloats(engine, "x", 1)[0], 14.0f);
}

TEST(Programs, CopyMovesValuesBetweenViewsAndChecksTypes) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor a = graph.addVariable(poplar::INT, {2, 2}, "a");
  poplar::Tensor b = graph.addVariable(poplar::INT, {2, 2}, "b");
  graph.setTileMapping(a, 0);
  graph.setTileMapping(b, 1);
  graph.createHostWrite("a", a);
  graph.createHostRead("b", b);
  poplar::Engine engine(graph, poplar::program::Copy(a.transpose(), b));
  engine.load(device);
  std::vector<int> av{1, 2, 3, 4}, bv(4);
  engine.writeTensor("a", av.data(), av.data() + 4);
  engine.run(0);
  engine.readTensor("b", bv.data(), bv.data() + 4);
  EXPECT_EQ(bv, (std::vector<int>{1, 3, 2, 4}));
  poplar::Tensor f = graph.addVariable(poplar::FLOAT, {4}, "f");
  EXPECT_THROW(poplar::program::Copy(a.flatten(), f), poplar::poplar_error);
}

TEST(Programs, CrossReplicaCopySendsEachReplicasValueAlongTheMap) {
  poplar::Device device = smallDevice(4, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(4));
  poplar::Tensor src = graph.addVariable(poplar::FLOAT, {2}, "src");
  poplar::Tensor dst = graph.addVariable(poplar::FLOAT, {2}, "dst");
  graph.setTileMapping(src, 0);
  graph.setTileMapping(dst, 1);
  graph.createHostWrite("src", src);
  graph.createHostWrite("dst", dst);
  graph.createHostRead("dst", dst);
  poplar::Engine engine(graph, poplar::program::CrossReplicaCopy(src, dst, {{0, 1}, {1, 2}, {2, 3}, {3, 0}}));
  engine.load(device);
  std::vector<float> perReplica{0, 1, 10, 11, 20, 21, 30, 31}, zero(8, 0), out(8);
  engine.writeTensor("src", perReplica.data(), perReplica.data() + 8);
  engine.writeTensor("dst", zero.data(), zero.data() + 8);
  engine.run(0);
  engine.readTensor("dst", out.data(), out.data() + 8);
  EXPECT_EQ(out, (std::vector<float>{30, 31, 0, 1, 10, 11, 20, 21}));
}

TEST(Programs, AbortOnConditionStopsTheRunOnlyWhenTrue) {
  Scalar s;
  poplar::Tensor bad = s.graph.addVariable(poplar::BOOL, {}, "bad");
  s.graph.setTileMapping(bad, 0);
  s.graph.createHostWrite("bad", bad);
  poplar::program::Sequence prog;
  prog.add(poplar::program::AbortOnCondition(bad, "check/nonFinite"));
  fillKernel(s.graph, prog, s.x, 5);
  poplar::Engine engine(s.graph, prog);
  engine.load(s.device);
  unsigned char no = 0, yes = 1;
  engine.writeTensor("bad", &no, &no + 1);
  engine.run(0);
  EXPECT_EQ(readFloats(engine, "x", 1)[0], 5.0f);
  engine.writeTensor("bad", &yes, &yes + 1);
  try {
    engine.run(0);
    FAIL();
  } catch (const poplar::application_runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("check/nonFinite"), std::string::npos) << e.what();
  }
}

TEST(Programs, EveryReplicaRunsLargeKernelsOnItsOwnDataAndErrorsNameTheReplica) {
  // 20000 elements is above the size at which replicas of one step run on threads.
  poplar::Device device = smallDevice(4, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(4));
  poplar::Tensor x = graph.addVariable(poplar::HALF, {20000}, "x");
  poputil::mapTensorLinearly(graph, x);
  graph.createHostRead("x", x);
  poplar::program::Sequence prog;
  poplar::setFloatingPointBehaviour(graph, prog, poplar::FloatingPointBehaviour(false, false, true, false, false));
  poplar_emulator::Kernel k;
  k.name = "perReplica";
  k.outputs = {x};
  k.body = [](poplar_emulator::KernelIo &io) {
    // Replica 3 writes a value past the half range: only it overflows.
    float v = io.replica() == 3 ? 1e6f : static_cast<float>(io.replica() + 1);
    for (std::size_t i = 0; i < io.output(0).numElements; ++i) io.output(0).floats[i] = v * (i % 2 ? -1.0f : 1.0f);
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));
  poplar::Engine engine(graph, prog);
  engine.load(device);
  try {
    engine.run(0);
    FAIL();
  } catch (const poplar::application_runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("replica 3"), std::string::npos) << e.what();
  }
  std::vector<std::uint16_t> all(4 * 20000);
  engine.readTensor("x", all.data(), all.data() + all.size());
  // Replicas 0-2 finished their writes: 1, 2, 3 (0x3c00, 0x4000, 0x4200), alternating sign.
  const std::uint16_t expected[3] = {0x3c00, 0x4000, 0x4200};
  for (unsigned r = 0; r < 3; ++r)
    for (std::size_t i = 0; i < 20000; i += 4999)
      EXPECT_EQ(all[r * 20000 + i], static_cast<std::uint16_t>(expected[r] | (i % 2 ? 0x8000 : 0))) << r << " " << i;
}

TEST(Programs, RunBeforeLoadAndUnknownProgramAreErrors) {
  Scalar s;
  poplar::Engine engine(s.graph, poplar::program::Sequence());
  EXPECT_THROW(engine.run(0), poplar::poplar_error);
  engine.load(s.device);
  EXPECT_THROW(engine.run(1), poplar::poplar_error);
  EXPECT_THROW(engine.readTensor("nope", nullptr, nullptr), poplar::poplar_error);
}

} // namespace
