// Host streams, host read/write handles per replica, and remote buffers with and without offsets.
#include <gtest/gtest.h>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/StreamCallback.hpp>

#include <memory>
#include <string>
#include <vector>

#include "TestSupport.hpp"
#include "core/Report.hpp"

namespace {

using emulator_test::mapKernel;
using emulator_test::smallDevice;

TEST(Streams, HostToDeviceAndBackThroughAKernelUsingACircularBuffer) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {3}, "x");
  graph.setTileMapping(x, 0);
  poplar::DataStream in = graph.addHostToDeviceFIFO("in", poplar::FLOAT, 3);
  poplar::DataStream out = graph.addDeviceToHostFIFO("out", poplar::FLOAT, 3);
  poplar::program::Sequence prog;
  prog.add(poplar::program::Copy(in, x));
  mapKernel(graph, prog, x, x, [](float v) { return v * v; });
  prog.add(poplar::program::Copy(x, out));
  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> host{1, 2, 3, 4, 5, 6}; // two entries, used in turn
  std::vector<float> result(3);
  engine.connectStream("in", host.data(), host.data() + host.size());
  engine.connectStream("out", result.data());
  engine.run(0);
  EXPECT_EQ(result, (std::vector<float>{1, 4, 9}));
  engine.run(0);
  EXPECT_EQ(result, (std::vector<float>{16, 25, 36}));
  engine.run(0);
  EXPECT_EQ(result, (std::vector<float>{1, 4, 9}));
  EXPECT_THROW(engine.connectStream("in", host.data(), host.data() + 4), poplar::poplar_error);
}

// A StreamCallback that counts its calls: it serves `value + call` to the device, or records what the device sent.
class CountingCallback : public poplar::StreamCallback {
public:
  CountingCallback(int value, std::vector<int> *received, int *completes, bool prefetches)
      : value_(value), received_(received), completes_(completes), prefetches_(prefetches) {}
  Result prefetch(void *p) override {
    if (!prefetches_) return Result::NotAvailable;
    fill(p);
    return Result::Success;
  }
  void fetch(void *p) override {
    if (received_) received_->assign(static_cast<int *>(p), static_cast<int *>(p) + 2);
    else fill(p);
  }
  void complete() override { ++*completes_; }

private:
  void fill(void *p) {
    int *q = static_cast<int *>(p);
    q[0] = value_ + calls_;
    q[1] = -(value_ + calls_);
    ++calls_;
  }
  int value_;
  std::vector<int> *received_;
  int *completes_;
  bool prefetches_;
  int calls_ = 0;
};

TEST(Streams, CallbacksServeEachReplicaItsOwnBlock) {
  poplar::Device device = smallDevice(2, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(2));
  poplar::Tensor a = graph.addVariable(poplar::INT, {2}, "a");
  graph.setTileMapping(a, 0);
  auto in = graph.addHostToDeviceFIFO("in", poplar::INT, 2, poplar::ReplicatedStreamMode::REPLICATE);
  auto out = graph.addDeviceToHostFIFO("out", poplar::INT, 2);
  poplar::Engine engine(graph, poplar::program::Sequence({poplar::program::Copy(in, a), poplar::program::Copy(a, out)}));
  engine.load(device);
  int completes0 = 0, completes1 = 0, outCompletes = 0;
  std::vector<int> sent0, sent1;
  // Replica 0 prefetches, replica 1 is fetched; a lambda takes replica 0's output, a callback replica 1's.
  engine.connectStreamToCallback("in", 0, std::make_unique<CountingCallback>(10, nullptr, &completes0, true));
  engine.connectStreamToCallback("in", 1u, std::make_unique<CountingCallback>(20, nullptr, &completes1, false));
  engine.connectStreamToCallback("out", 0, [&sent0](void *p) {
    sent0.assign(static_cast<int *>(p), static_cast<int *>(p) + 2);
  });
  engine.connectStreamToCallback("out", 1u, std::make_unique<CountingCallback>(0, &sent1, &outCompletes, false));
  engine.run(0);
  EXPECT_EQ(sent0, (std::vector<int>{10, -10}));
  EXPECT_EQ(sent1, (std::vector<int>{20, -20}));
  engine.run(0);
  EXPECT_EQ(sent0, (std::vector<int>{11, -11}));
  EXPECT_EQ(sent1, (std::vector<int>{21, -21}));
  EXPECT_EQ(completes0, 2);
  EXPECT_EQ(completes1, 2);
  EXPECT_EQ(outCompletes, 2);
}

TEST(Streams, ACallbackForEveryReplicaAndABufferMixAndTheLatestConnectionWins) {
  poplar::Device device = smallDevice(2, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(2));
  poplar::Tensor a = graph.addVariable(poplar::INT, {2}, "a");
  graph.setTileMapping(a, 0);
  graph.createHostRead("a", a);
  auto in = graph.addHostToDeviceFIFO("in", poplar::INT, 2, poplar::ReplicatedStreamMode::REPLICATE);
  poplar::Engine engine(graph, poplar::program::Copy(in, a));
  engine.load(device);
  std::vector<int> buffer{1, 2, 3, 4}, got(4);
  engine.connectStream("in", buffer.data());
  int calls = 0;
  engine.connectStreamToCallback("in", 1u, [&calls](void *p) {
    static_cast<int *>(p)[0] = 70 + calls++;
    static_cast<int *>(p)[1] = 71;
  });
  engine.run(0);  // replica 0 from the buffer, replica 1 from its callback
  engine.readTensor("a", got.data(), got.data() + 4);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 70, 71}));
  engine.connectStreamToCallback("in", [&calls](void *p) {  // every replica, one call each
    static_cast<int *>(p)[0] = 100 + calls++;
    static_cast<int *>(p)[1] = 0;
  });
  engine.run(0);
  engine.readTensor("a", got.data(), got.data() + 4);
  EXPECT_EQ(got, (std::vector<int>{101, 0, 102, 0}));
  engine.connectStream("in", buffer.data());  // the buffer again, for every replica
  engine.run(0);
  engine.readTensor("a", got.data(), got.data() + 4);
  EXPECT_EQ(got, buffer);
}

TEST(Streams, ACallbackForAnUnknownStreamOrReplicaIsRefusedNamingIt) {
  poplar::Device device = smallDevice(2, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(2));
  poplar::Tensor a = graph.addVariable(poplar::INT, {2}, "a");
  graph.setTileMapping(a, 0);
  auto in = graph.addHostToDeviceFIFO("in", poplar::INT, 2);
  poplar::Engine engine(graph, poplar::program::Copy(in, a));
  engine.load(device);
  auto expectError = [](auto &&connect, const std::string &needle) {
    try {
      connect();
      ADD_FAILURE() << "no error";
    } catch (const poplar::poplar_error &e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expectError([&] { engine.connectStreamToCallback("tokens", [](void *) {}); }, "'tokens'");
  expectError([&] { engine.connectStreamToCallback("in", 2u, [](void *) {}); }, "replica 2");
  expectError([&] { engine.connectStreamToCallback("in", std::unique_ptr<poplar::StreamCallback>()); }, "null");
}

TEST(Streams, UnconnectedStreamFailsTheRunNamingIt) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {3}, "x");
  graph.setTileMapping(x, 0);
  poplar::DataStream in = graph.addHostToDeviceFIFO("tokens", poplar::FLOAT, 3);
  poplar::Engine engine(graph, poplar::program::Copy(in, x));
  engine.load(device);
  try {
    engine.run(0);
    FAIL();
  } catch (const poplar::poplar_error &e) {
    EXPECT_NE(std::string(e.what()).find("tokens"), std::string::npos) << e.what();
  }
}

TEST(Streams, ReplicatedStreamsGiveEachReplicaItsBlockOrBroadcastOne) {
  poplar::Device device = smallDevice(2, 2);
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(2));
  poplar::Tensor a = graph.addVariable(poplar::INT, {2}, "a");
  poplar::Tensor b = graph.addVariable(poplar::INT, {2}, "b");
  graph.setTileMapping(a, 0);
  graph.setTileMapping(b, 1);
  graph.createHostRead("a", a);
  graph.createHostRead("b", b);
  auto perReplica = graph.addHostToDeviceFIFO("per", poplar::INT, 2, poplar::ReplicatedStreamMode::REPLICATE);
  auto shared = graph.addHostToDeviceFIFO("shared", poplar::INT, 2, poplar::ReplicatedStreamMode::BROADCAST);
  poplar::program::Sequence prog({poplar::program::Copy(perReplica, a), poplar::program::Copy(shared, b)});
  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<int> per{1, 2, 3, 4}, sh{7, 8};
  engine.connectStream("per", per.data());
  engine.connectStream("shared", sh.data());
  engine.run(0);
  std::vector<int> ga(4), gb(4);
  engine.readTensor("a", ga.data(), ga.data() + 4); // both replicas
  engine.readTensor("b", gb.data(), gb.data() + 4);
  EXPECT_EQ(ga, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(gb, (std::vector<int>{7, 8, 7, 8}));
  std::vector<int> first(2);
  engine.readTensor("a", first.data(), first.data() + 2); // replica 0 only
  EXPECT_EQ(first, (std::vector<int>{1, 2}));
}

// The typed overloads take a gccs::ArrayRef, as SDK callers write them: the host data arrives in the caller's vector.
TEST(Streams, TypedHostBuffersGoThroughAGccsArrayRef) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {3}, "x");
  graph.setTileMapping(x, 0);
  graph.createHostRead("x", x);
  poplar::DataStream in = graph.addHostToDeviceFIFO("in", poplar::FLOAT, 3);
  poplar::program::Sequence prog({poplar::program::Copy(in, x)});
  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> host{1.5f, -2, 4};
  engine.connectStream("in", gccs::ArrayRef(host));
  engine.run(0);
  std::vector<float> got(3);
  engine.readTensor("x", gccs::ArrayRef(got));
  EXPECT_EQ(got, host);
  std::vector<float> two(2);
  EXPECT_THROW(engine.readTensor("x", gccs::ArrayRef<float>(two.data(), two.size())), poplar::poplar_error);
}

TEST(RemoteBuffers, RoundTripWithAndWithoutOffsets) {
  poplar::Device device = smallDevice();
  poplar::Graph graph(device.getTarget());
  poplar::RemoteBuffer rb = graph.addRemoteBuffer("weights", poplar::FLOAT, 4, 3);
  EXPECT_EQ(rb.getRepeats(), 3u);
  poplar::Tensor row = graph.addVariable(poplar::FLOAT, {4}, "row");
  poplar::Tensor rows = graph.addVariable(poplar::FLOAT, {2, 4}, "rows");
  poplar::Tensor offsets = graph.addVariable(poplar::UNSIGNED_INT, {2}, "offsets");
  graph.setTileMapping(row, 0);
  graph.setTileMapping(rows, 1);
  graph.setTileMapping(offsets, 2);
  graph.createHostWrite("offsets", offsets);
  graph.createHostRead("rows", rows);
  poplar::program::Sequence load, store;
  load.add(poplar::program::Copy(rb, row));               // row 0
  mapKernel(graph, load, row, row, [](float v) { return -v; });
  load.add(poplar::program::Copy(row, rb));               // back into row 0
  load.add(poplar::program::Copy(rb, rows, offsets));     // rows[offsets[i]]
  mapKernel(graph, store, rows, rows, [](float v) { return v + 100; });
  store.add(poplar::program::Copy(rows, rb, offsets));
  poplar::Engine engine(graph, {load, store});
  engine.load(device);
  for (unsigned r = 0; r < 3; ++r) {
    std::vector<float> v{10.f * r, 10.f * r + 1, 10.f * r + 2, 10.f * r + 3};
    engine.copyToRemoteBuffer(poplar::ArrayRef<float>(v), "weights", r);
  }
  std::vector<unsigned> off{2, 0};
  engine.writeTensor("offsets", off.data(), off.data() + 2);
  engine.run(0);
  // a row in, a row out, two rows in: 16 floats over the streaming link
  EXPECT_EQ(poplar_emulator::lastRunCycles(engine).remoteBytes, 16.0 * 4);
  std::vector<float> got(8);
  engine.readTensor("rows", got.data(), got.data() + 8);
  EXPECT_EQ(got, (std::vector<float>{20, 21, 22, 23, 0, -1, -2, -3}));
  engine.run(1);
  std::vector<float> r0(4), r1(4), r2(4);
  engine.copyFromRemoteBuffer("weights", r0.data(), 0);
  engine.copyFromRemoteBuffer("weights", r1.data(), 1);
  engine.copyFromRemoteBuffer("weights", r2.data(), 2);
  EXPECT_EQ(r0, (std::vector<float>{100, 99, 98, 97}));
  EXPECT_EQ(r1, (std::vector<float>{10, 11, 12, 13}));
  EXPECT_EQ(r2, (std::vector<float>{120, 121, 122, 123}));
  off = {3, 0};
  engine.writeTensor("offsets", off.data(), off.data() + 2);
  EXPECT_THROW(engine.run(1), poplar::poplar_error); // row 3 does not exist
  EXPECT_THROW(engine.copyToRemoteBuffer(r0.data(), "weights", 3), poplar::poplar_error);
}

} // namespace
