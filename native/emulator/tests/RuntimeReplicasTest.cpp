// The engine options that choose the replicas one host instance runs (target.firstRuntimeReplica,
// target.numberRuntimeReplica): ranges that are not replicas of the graph fail clearly, before any MPI.
// Running them across instances is tests/mpi/CollectivesAcrossInstances.cpp (under mpirun).
#include <gtest/gtest.h>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/exceptions.hpp>

#include "TestSupport.hpp"

namespace {

void expectRejected(const std::string &first, const std::string &number, const std::string &needle) {
  poplar::Device device = emulator_test::smallDevice(4, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(4));
  graph.setTileMapping(graph.addVariable(poplar::FLOAT, {2}, "x"), 0);
  poplar::program::Sequence prog;
  poplar::OptionFlags options;
  if (!first.empty()) options.set("target.firstRuntimeReplica", first);
  if (!number.empty()) options.set("target.numberRuntimeReplica", number);
  try {
    poplar::Engine engine(graph, prog, options);
    FAIL() << "no error for first=" << first << " number=" << number;
  } catch (const poplar::poplar_error &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(RuntimeReplicas, RangesOutsideTheGraphAreRejected) {
  expectRejected("4", "", "do not name a non-empty range of the graph's 4 replicas");
  expectRejected("2", "3", "do not name a non-empty range of the graph's 4 replicas");
  expectRejected("0", "0", "do not name a non-empty range of the graph's 4 replicas");
}

TEST(RuntimeReplicas, NonNumericValuesAreRejected) {
  expectRejected("one", "", "option 'target.firstRuntimeReplica' is 'one', not a replica count or index");
  expectRejected("", "-1", "option 'target.numberRuntimeReplica' is '-1'");
}

TEST(RuntimeReplicas, EveryReplicaLocalIsTheOneProcessEngine) {
  poplar::Device device = emulator_test::smallDevice(2, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(2));
  poplar::Tensor x = graph.addReplicationIndexConstant();
  graph.setTileMapping(x, 0);
  graph.createHostRead("x", x);
  poplar::program::Sequence prog;
  poplar::Engine engine(graph, prog, poplar::OptionFlags{{"target.firstRuntimeReplica", "0"}, {"target.numberRuntimeReplica", "2"}});
  engine.load(device);
  engine.run(0);
  std::vector<unsigned> got(2);
  engine.readTensor("x", got.data(), got.data() + 2);
  EXPECT_EQ(got, (std::vector<unsigned>{0, 1}));
}

} // namespace
