// The host threads an engine's kernels share: every part runs once, errors reach the caller, calls from several
// threads or from inside a part do not deadlock, and an engine's results do not depend on how many threads it has
// (matmuls split into bands: within float rounding of one call).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplin/MatMul.hpp>
#include <popnn/NonLinearity.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Fill.hpp>
#include <popops/Reduce.hpp>
#include <poputil/TileMapping.hpp>

#include "TestSupport.hpp"
#include "core/HostWorkers.hpp"
#include "core/Report.hpp"

namespace {

using poplar_emulator::HostWorkers;

TEST(HostWorkers, RunsEveryPartOnceOnEveryThreadCount) {
  for (unsigned threads : {1u, 2u, 5u}) {
    HostWorkers workers(threads);
    EXPECT_EQ(workers.threads(), threads);
    for (std::size_t parts : {0u, 1u, 3u, 64u}) {
      std::vector<std::atomic<int>> runs(parts);
      workers.run(parts, [&](std::size_t i) { runs[i].fetch_add(1); });
      for (std::size_t i = 0; i < parts; ++i)
        EXPECT_EQ(runs[i].load(), 1) << threads << " threads, part " << i << " of " << parts;
    }
  }
}

TEST(HostWorkers, AFailingPartReachesTheCallerAndTheWorkersStayUsable) {
  HostWorkers workers(3);
  EXPECT_THROW(workers.run(16, [](std::size_t i) {
                 if (i == 5) throw std::runtime_error("part 5 failed");
               }),
               std::runtime_error);
  std::atomic<int> done{0};
  workers.run(16, [&](std::size_t) { done.fetch_add(1); });
  EXPECT_EQ(done.load(), 16);
}

TEST(HostWorkers, ACallFromInsideAPartRunsInline) {
  HostWorkers workers(2);
  std::atomic<int> inner{0};
  workers.run(4, [&](std::size_t) { workers.run(3, [&](std::size_t) { inner.fetch_add(1); }); });
  EXPECT_EQ(inner.load(), 12);
}

TEST(HostWorkers, CallsFromSeveralThreadsAllComplete) {
  // Replicas run on threads of their own and share their engine's workers.
  HostWorkers workers(2);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int call = 0; call < 200; ++call)
        workers.run(8, [&](std::size_t i) { total.fetch_add(static_cast<long>(i)); });
    });
  for (auto &t : callers) t.join();
  EXPECT_EQ(total.load(), 4L * 200L * 28L);
}

// Bits of every output of a graph whose kernels split their work: a long blocked reduction, rows of a
// softmax, bands of a matmul's rows and of its columns, groups of a grouped matmul, chunks of a map, gelu, a fill.
std::vector<std::vector<float>> runSplitKernels(unsigned threads) {
  poplar::Device device = emulator_test::smallDevice(1, 4, 64 * 1024 * 1024);
  poplar::Graph graph(device.getTarget());
  poplar::program::Sequence prog;
  auto input = [&](const std::vector<std::size_t> &shape, const char *name) {
    poplar::Tensor t = graph.addVariable(poplar::FLOAT, shape, name);
    poputil::mapTensorLinearly(graph, t);
    graph.createHostWrite(name, t);
    return t;
  };
  const poplar::Tensor a = input({256, 320}, "a"), b = input({320, 96}, "b"), wide = input({16, 320}, "wide");
  const poplar::Tensor g = input({6, 128, 48}, "g"), h = input({6, 48, 40}, "h");
  const poplar::Tensor longRow = input({3, 100000}, "long");
  std::vector<poplar::Tensor> outs = {
      poplin::matMul(graph, a, b, prog, poplar::FLOAT, "rows"),
      poplin::matMul(graph, wide, a.transpose(), prog, poplar::FLOAT, "columns"),
      poplin::matMulGrouped(graph, g, h, prog, poplar::FLOAT, "groups"),
      popops::reduce(graph, longRow, poplar::FLOAT, {1}, popops::Operation::ADD, prog, "blocked_rows"),
      popops::reduce(graph, longRow.flatten(), poplar::FLOAT, {0}, popops::Operation::SQUARE_ADD, prog, "blocked"),
      popops::reduce(graph, a, poplar::FLOAT, {0}, popops::Operation::MAX, prog, "columns_max"),
      popnn::nonLinearity(graph, popnn::NonLinearityType::SOFTMAX_STABLE, a, prog, "softmax"),
      popnn::nonLinearity(graph, popnn::NonLinearityType::GELU, longRow, prog, "gelu"),
      popops::map(graph, popops::expr::Sqrt(popops::expr::Abs(popops::expr::_1)) * popops::expr::_1, {longRow}, prog,
                  "map"),
  };
  poplar::Tensor filled = graph.addVariable(poplar::FLOAT, {3, 100000}, "filled");
  poputil::mapTensorLinearly(graph, filled);
  popops::fill(graph, filled, prog, 0.7f, "fill");
  outs.push_back(filled);
  for (std::size_t i = 0; i < outs.size(); ++i) graph.createHostRead("out" + std::to_string(i), outs[i]);
  poplar::Engine engine(graph, prog);
  poplar_emulator::setHostThreads(engine, threads);
  engine.load(device);
  auto values = [](std::size_t n, float scale) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 7919) % 1013) / 1013.0f - 0.3f;
    return v;
  };
  for (const auto &[name, t] : std::vector<std::pair<const char *, poplar::Tensor>>{
           {"a", a}, {"b", b}, {"wide", wide}, {"g", g}, {"h", h}, {"long", longRow}}) {
    const std::vector<float> v = values(t.numElements(), 3.0f);
    engine.writeTensor(name, v.data(), v.data() + v.size());
  }
  engine.run(0);
  std::vector<std::vector<float>> results;
  for (std::size_t i = 0; i < outs.size(); ++i)
    results.push_back(emulator_test::readFloats(engine, "out" + std::to_string(i), outs[i].numElements()));
  return results;
}

// Outputs 0 and 1 are matmuls split into bands; the rest are split where every element keeps its value.
constexpr std::size_t kBandedOutputs = 2;

TEST(HostWorkers, AnEngineGivesTheSameBitsOnOneThreadAndOnSeveral) {
  const auto one = runSplitKernels(1);
  for (unsigned threads : {2u, 3u}) {
    const auto several = runSplitKernels(threads);
    ASSERT_EQ(several.size(), one.size());
    for (std::size_t o = kBandedOutputs; o < one.size(); ++o) {
      ASSERT_EQ(several[o].size(), one[o].size());
      EXPECT_EQ(std::memcmp(several[o].data(), one[o].data(), one[o].size() * sizeof(float)), 0)
          << "output " << o << " differs on " << threads << " threads";
    }
  }
}

TEST(HostWorkers, ABandedMatMulIsWithinFloatRoundingOfOneCall) {
  // OpenBLAS may block a band's rows differently from the whole product's, so each element is another rounding
  // of the same dot product of k = 320 terms: the two differ by at most 2 gamma_k sum |a||b| (gamma_k = k u / (1 -
  // k u), u = 2^-24), and all inputs here are within [-0.3, 2.7], so sum |a||b| <= 320 * 2.7^2.
  const double u = 1.0 / 16777216.0, k = 320;
  const double bound = 2 * (k * u / (1 - k * u)) * k * 2.7 * 2.7;
  const auto one = runSplitKernels(1);
  for (unsigned threads : {2u, 3u}) {
    const auto several = runSplitKernels(threads);
    for (std::size_t o = 0; o < kBandedOutputs; ++o)
      for (std::size_t i = 0; i < one[o].size(); ++i)
        ASSERT_LE(std::abs(double(several[o][i]) - double(one[o][i])), bound)
            << "output " << o << " element " << i << " on " << threads << " threads";
  }
}

TEST(HostWorkers, ABlockedSumIsCloserToTheExactSumThanOneRunningSum) {
  // 2^24 + 1 + 1 + ... : a running float sum stops growing at 2^24; blocks keep the ones.
  poplar::Device device = emulator_test::smallDevice(1, 4, 64 * 1024 * 1024);
  poplar::Graph graph(device.getTarget());
  poplar::program::Sequence prog;
  const std::size_t n = 20000;
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {n}, "x");
  poputil::mapTensorLinearly(graph, x);
  graph.createHostWrite("x", x);
  poplar::Tensor sum = popops::reduce(graph, x, poplar::FLOAT, {0}, popops::Operation::ADD, prog, "sum");
  graph.createHostRead("sum", sum);
  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> v(n, 1.0f);
  v[0] = 16777216.0f;
  engine.writeTensor("x", v.data(), v.data() + n);
  engine.run(0);
  const float got = emulator_test::readFloats(engine, "sum", 1)[0];
  EXPECT_GT(got, 16777216.0f + 15000.0f);  // exact: 16777216 + 19999
}

} // namespace
