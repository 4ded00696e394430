// gcl collectives across replicas by CommGroup, and across the IPUs of one replica.
#include <gtest/gtest.h>

#include <gcl/Collectives.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poputil/TileMapping.hpp>

#include "TestSupport.hpp"

namespace {

using emulator_test::smallDevice;

// Four replicas, each holding x = [10 r + 1, 10 r + 2]; returns the result of every replica.
std::vector<float> runCollective(std::function<poplar::Tensor(poplar::Graph &, poplar::Tensor, poplar::program::Sequence &)> op,
                                 std::size_t outElements) {
  poplar::Device device = smallDevice(4, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(4));
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {2}, "x");
  graph.setTileMapping(x, 0);
  graph.createHostWrite("x", x);
  poplar::program::Sequence prog;
  poplar::Tensor out = op(graph, x, prog);
  graph.createHostRead("out", out);
  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> in{1, 2, 11, 12, 21, 22, 31, 32};
  engine.writeTensor("x", in.data(), in.data() + in.size());
  engine.run(0);
  std::vector<float> result(4 * outElements);
  engine.readTensor("out", result.data(), result.data() + result.size());
  return result;
}

TEST(Collectives, AllReduceSumsOverEachCommGroup) {
  auto all = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::ADD, p, gcl::CommGroup(gcl::ALL, 0));
  }, 2);
  EXPECT_EQ(all, (std::vector<float>{64, 68, 64, 68, 64, 68, 64, 68}));
  // CONSECUTIVE(2): {0,1} and {2,3}.
  auto consecutive = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::ADD, p, gcl::CommGroup(gcl::CONSECUTIVE, 2));
  }, 2);
  EXPECT_EQ(consecutive, (std::vector<float>{12, 14, 12, 14, 52, 54, 52, 54}));
  // ORTHOGONAL(2): {0,2} and {1,3}.
  auto orthogonal = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::ADD, p, gcl::CommGroup(gcl::ORTHOGONAL, 2));
  }, 2);
  EXPECT_EQ(orthogonal, (std::vector<float>{22, 24, 42, 44, 22, 24, 42, 44}));
}

TEST(Collectives, AllReduceOperators) {
  auto mean = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::MEAN, p, gcl::CommGroup(gcl::ALL, 4));
  }, 2);
  EXPECT_EQ(mean, (std::vector<float>{16, 17, 16, 17, 16, 17, 16, 17}));
  auto mx = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::MAX, p, gcl::CommGroup(gcl::CONSECUTIVE, 2));
  }, 2);
  EXPECT_EQ(mx, (std::vector<float>{11, 12, 11, 12, 31, 32, 31, 32}));
  auto sq = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::SQUARE_ADD, p, gcl::CommGroup(gcl::CONSECUTIVE, 2));
  }, 2);
  EXPECT_EQ(sq, (std::vector<float>{122, 148, 122, 148, 1402, 1508, 1402, 1508}));
  auto local = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::LOCAL, p, gcl::CommGroup(gcl::ALL, 0));
  }, 2);
  EXPECT_EQ(local, (std::vector<float>{1, 2, 11, 12, 21, 22, 31, 32}));
}

TEST(Collectives, AllReduceInPlaceWritesTheInput) {
  auto r = runCollective([](auto &g, auto x, auto &p) {
    gcl::allReduceInPlaceCrossReplica(g, x, gcl::ADD, p, gcl::CommGroup(gcl::ORTHOGONAL, 2));
    return x;
  }, 2);
  EXPECT_EQ(r, (std::vector<float>{22, 24, 42, 44, 22, 24, 42, 44}));
}

TEST(Collectives, ReduceScatterGivesEachGroupMemberItsPiece) {
  auto r = runCollective([](auto &g, auto x, auto &p) {
    return gcl::reduceScatterCrossReplica(g, x, gcl::ADD, p, gcl::CommGroup(gcl::CONSECUTIVE, 2));
  }, 1);
  // Group {0,1} sums to [12, 14]: replica 0 gets 12, replica 1 gets 14; group {2,3}: [52, 54].
  EXPECT_EQ(r, (std::vector<float>{12, 14, 52, 54}));
  auto o = runCollective([](auto &g, auto x, auto &p) {
    return gcl::reduceScatterCrossReplica(g, x, gcl::ADD, p, gcl::CommGroup(gcl::ORTHOGONAL, 2));
  }, 1);
  // Groups {0,2} -> [22, 24] and {1,3} -> [42, 44]; positions: 0->22, 2->24, 1->42, 3->44.
  EXPECT_EQ(o, (std::vector<float>{22, 42, 24, 44}));
}

TEST(Collectives, AllGatherStacksTheGroupsValues) {
  auto r = runCollective([](auto &g, auto x, auto &p) {
    return gcl::allGatherCrossReplica(g, x, p, gcl::CommGroup(gcl::ORTHOGONAL, 2));
  }, 4);
  EXPECT_EQ(r, (std::vector<float>{1, 2, 21, 22, 11, 12, 31, 32, 1, 2, 21, 22, 11, 12, 31, 32}));
  auto all = runCollective([](auto &g, auto x, auto &p) { return gcl::allGatherCrossReplica(g, x, p); }, 8);
  for (unsigned rep = 0; rep < 4; ++rep)
    EXPECT_EQ(std::vector<float>(all.begin() + rep * 8, all.begin() + rep * 8 + 8),
              (std::vector<float>{1, 2, 11, 12, 21, 22, 31, 32}));
}

TEST(Collectives, GroupSizeMustDivideTheReplicationFactor) {
  EXPECT_THROW(runCollective([](auto &g, auto x, auto &p) {
    return gcl::allReduceCrossReplica(g, x, gcl::ADD, p, gcl::CommGroup(gcl::CONSECUTIVE, 3));
  }, 2), poplar::poplar_error);
}

TEST(Collectives, WithinReplicaReduceAcrossTheReplicasIpus) {
  poplar::Device device = smallDevice(2, 2);
  poplar::Graph graph(device.getTarget());
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {2, 3}, "x");
  graph.setTileMapping(x[0], 0); // IPU 0
  graph.setTileMapping(x[1], 2); // IPU 1
  graph.createHostWrite("x", x);
  poplar::program::Sequence prog;
  poplar::Tensor sum = gcl::allReduceWithinReplica(graph, x, gcl::ADD, prog);
  gcl::Chunks chunks = gcl::reduceScatterWithinReplica(graph, x, gcl::MAX, prog);
  poplar::Tensor gathered = gcl::allGatherWithinReplica(graph, chunks, prog);
  graph.createHostRead("sum", sum);
  graph.createHostRead("gathered", gathered);
  ASSERT_EQ(chunks.chunks.size(), 2u);
  EXPECT_EQ(chunks.chunks[1].index, 1u);
  EXPECT_EQ(chunks.chunks[1].offset, 2u);
  // Chunk 1 lives on IPU 1 (tiles 2-3).
  auto m = graph.getTileMapping(chunks.chunks[1].tensor);
  EXPECT_TRUE(m[0].empty() && m[1].empty());
  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> in{1, 5, 3, 4, 2, 6};
  engine.writeTensor("x", in.data(), in.data() + 6);
  engine.run(0);
  std::vector<float> s(6), g(6);
  engine.readTensor("sum", s.data(), s.data() + 6);
  engine.readTensor("gathered", g.data(), g.data() + 6);
  EXPECT_EQ(s, (std::vector<float>{5, 7, 9, 5, 7, 9}));
  EXPECT_EQ(g, (std::vector<float>{4, 5, 6, 4, 5, 6}));
}

} // namespace
