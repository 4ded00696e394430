// GFLOP/s of poplin::matMul run by the emulator's Engine against raw cblas_sgemm on the same
// shapes: how much the graph, kernel hook and write-back cost on top of OpenBLAS.
// Usage: emulator_matmul_bench [m k n [repeats]]   (default 512 2048 512, 20 repeats)
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <poplin/MatMul.hpp>

#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::vector<float> randomMatrix(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

} // namespace

int main(int argc, char **argv) {
  const std::size_t m = argc > 3 ? std::strtoul(argv[1], nullptr, 10) : 512;
  const std::size_t k = argc > 3 ? std::strtoul(argv[2], nullptr, 10) : 2048;
  const std::size_t n = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 512;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 20;
  const double flops = 2.0 * static_cast<double>(m * n * k);
  const auto a = randomMatrix(m * k, 1), b = randomMatrix(k * n, 2);

  std::vector<float> c(m * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              1.0f, a.data(), static_cast<int>(k), b.data(), static_cast<int>(n), 0.0f, c.data(), static_cast<int>(n));
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeats; ++r)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, a.data(), static_cast<int>(k), b.data(), static_cast<int>(n), 0.0f, c.data(),
                static_cast<int>(n));
  const double blas = seconds(std::chrono::steady_clock::now() - start) / repeats;

  poplar::IPUModel model;
  poplar::Device device = model.createDevice();
  device.attach();
  poplar::Graph graph(device.getTarget());
  poplar::Tensor A = graph.addVariable(poplar::FLOAT, {m, k}, "A");
  poplar::Tensor Bt = graph.addVariable(poplar::FLOAT, {n, k}, "Bt");
  graph.setTileMapping(A, 0);
  graph.setTileMapping(Bt, 1);
  graph.createHostWrite("A", A);
  graph.createHostWrite("Bt", Bt);
  poplar::program::Sequence plain, transposed;
  poplar::Tensor B = graph.addVariable(poplar::FLOAT, {k, n}, "B");
  graph.setTileMapping(B, 2);
  graph.createHostWrite("B", B);
  poplin::matMul(graph, A, B, plain, "plain");
  poplin::matMul(graph, A, Bt.transpose(), transposed, "transposedRhs");
  poplar::Engine engine(graph, {plain, transposed});
  engine.load(device);
  std::vector<float> bt(n * k);
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < n; ++j)
      bt[j * k + i] = b[i * n + j];
  engine.writeTensor("A", a.data(), a.data() + a.size());
  engine.writeTensor("B", b.data(), b.data() + b.size());
  engine.writeTensor("Bt", bt.data(), bt.data() + bt.size());
  double timed[2];
  for (unsigned p = 0; p < 2; ++p) {
    engine.run(p);
    start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r)
      engine.run(p);
    timed[p] = seconds(std::chrono::steady_clock::now() - start) / repeats;
  }
  std::printf("m=%zu k=%zu n=%zu float, %d repeats\n", m, k, n, repeats);
  std::printf("cblas_sgemm:                        %8.2f GFLOP/s\n", flops / blas * 1e-9);
  std::printf("poplin::matMul (Engine::run):       %8.2f GFLOP/s\n", flops / timed[0] * 1e-9);
  std::printf("poplin::matMul, B a transposed view:%8.2f GFLOP/s\n", flops / timed[1] * 1e-9);
  return 0;
}
