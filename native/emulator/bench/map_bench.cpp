// Element-wise throughput of popops::map run by the emulator's Engine: a three-input float
// expression and its half twin, against a plain C++ loop over the same arrays.
// Usage: emulator_map_bench [elements [repeats]]   (default 4194304, 20 repeats)
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <popops/ElementWise.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace popops::expr;

namespace {

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

} // namespace

int main(int argc, char **argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 4194304;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 20;
  std::vector<float> a(n, 0.5f), b(n, 1.5f), c(n, -0.25f), out(n);

  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeats; ++r)
    for (std::size_t i = 0; i < n; ++i)
      out[i] = std::tanh(a[i] * b[i] + c[i]);
  const double loop = seconds(std::chrono::steady_clock::now() - start) / repeats;

  poplar::IPUModel model;
  poplar::Device device = model.createDevice();
  poplar::Graph graph(device.getTarget());
  poplar::program::Sequence progs[2];
  const poplar::Type types[2] = {poplar::FLOAT, poplar::HALF};
  for (int t = 0; t < 2; ++t) {
    std::vector<poplar::Tensor> ins;
    for (int i = 0; i < 3; ++i) {
      ins.push_back(graph.addVariable(types[t], {n}, "in"));
      graph.setTileMapping(ins.back(), static_cast<unsigned>(i));
    }
    popops::map(graph, Tanh(_1 * _2 + _3), ins, progs[t], "fma_tanh");
  }
  poplar::Engine engine(graph, {progs[0], progs[1]});
  engine.load(device);
  double timed[2];
  for (unsigned p = 0; p < 2; ++p) {
    engine.run(p);
    start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r)
      engine.run(p);
    timed[p] = seconds(std::chrono::steady_clock::now() - start) / repeats;
  }
  std::printf("tanh(_1 * _2 + _3) over %zu elements, %d repeats (checksum %g)\n", n, repeats, out[n / 2]);
  std::printf("plain C++ loop, float:        %8.1f M elements/s\n", n / loop * 1e-6);
  std::printf("popops::map, float (Engine):  %8.1f M elements/s\n", n / timed[0] * 1e-6);
  std::printf("popops::map, half (Engine):   %8.1f M elements/s\n", n / timed[1] * 1e-6);
  return 0;
}
