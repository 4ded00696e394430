// A standalone Poplar program using the op libraries through the SDK's API only: a dense layer
// y = gelu(x W + b) on a batch streamed from the host, its column sums (a reduction), dropout with a
// seed tensor, and the element-wise expression 2 * y - 1; results checked against the host.
//   g++ -std=c++17 dense_layer.cpp -I DIR/include -L DIR/lib
//       -lpoplar -lpoplin -lpopops -lpopnn -lpoprand -lpoputil -lgcl
#include <cmath>
#include <cstdio>
#include <vector>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <poplin/MatMul.hpp>
#include <poplin/codelets.hpp>
#include <popnn/NonLinearity.hpp>
#include <popnn/codelets.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/codelets.hpp>
#include <poprand/RandomGen.hpp>
#include <poprand/codelets.hpp>
#include <poputil/TileMapping.hpp>

using namespace popops::expr;

int main() {
  const std::size_t batch = 4, in = 8, out = 3;
  poplar::IPUModel ipuModel;
  ipuModel.tilesPerIPU = 16;
  poplar::Device device = ipuModel.createDevice();
  poplar::Graph graph(device.getTarget());
  popops::addCodelets(graph);
  poplin::addCodelets(graph);
  popnn::addCodelets(graph);
  poprand::addCodelets(graph);

  poplar::Tensor x = poplin::createMatMulInputLHS(graph, poplar::FLOAT, {batch, in}, {in, out}, "x");
  poplar::Tensor w = poplin::createMatMulInputRHS(graph, poplar::FLOAT, {batch, in}, {in, out}, "w");
  poplar::Tensor b = graph.addVariable(poplar::FLOAT, {out}, "b");
  poplar::Tensor seed = graph.addVariable(poplar::UNSIGNED_INT, {2}, "seed");
  poputil::mapTensorLinearly(graph, b);
  poputil::mapTensorLinearly(graph, seed);
  poplar::DataStream xIn = graph.addHostToDeviceFIFO("x", poplar::FLOAT, batch * in);
  poplar::DataStream yOut = graph.addDeviceToHostFIFO("y", poplar::FLOAT, batch * out);
  poplar::DataStream sumOut = graph.addDeviceToHostFIFO("sum", poplar::FLOAT, out);
  poplar::DataStream shiftedOut = graph.addDeviceToHostFIFO("shifted", poplar::FLOAT, batch * out);
  poplar::DataStream droppedOut = graph.addDeviceToHostFIFO("dropped", poplar::FLOAT, batch * out);
  graph.createHostWrite("w", w);
  graph.createHostWrite("b", b);
  graph.createHostWrite("seed", seed);

  poplar::program::Sequence prog;
  prog.add(poplar::program::Copy(xIn, x));
  poplar::Tensor y = poplin::matMul(graph, x, w, prog, "dense");
  popops::addInPlace(graph, y, b, prog, "bias");  // b broadcasts over the batch
  popnn::nonLinearityInPlace(graph, popnn::NonLinearityType::GELU, y, prog, "gelu");
  poplar::Tensor sum = popops::reduce(graph, y, {0}, popops::Operation::ADD, prog, "columnSums");
  poplar::Tensor shifted = popops::map(graph, 2 * _1 - 1, {y}, prog, "shift");
  poplar::Tensor dropped = poprand::dropout(graph, &seed, 0, y, y, 0.5, 2.0, prog, "dropout");
  prog.add(poplar::program::Copy(y, yOut));
  prog.add(poplar::program::Copy(sum, sumOut));
  prog.add(poplar::program::Copy(shifted, shiftedOut));
  prog.add(poplar::program::Copy(dropped, droppedOut));

  std::vector<float> xv(batch * in), wv(in * out), bv{0.5f, -0.25f, 0.0f};
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  for (std::size_t i = 0; i < wv.size(); ++i) wv[i] = 0.05f * static_cast<float>(i % 5) - 0.1f;
  std::vector<float> yv(batch * out), sumv(out), shiftedv(batch * out), droppedv(batch * out);
  const unsigned seedv[2] = {123, 456};

  poplar::Engine engine(graph, prog);
  engine.load(device);
  engine.writeTensor("w", wv.data(), wv.data() + wv.size());
  engine.writeTensor("b", bv.data(), bv.data() + bv.size());
  engine.writeTensor("seed", seedv, seedv + 2);
  engine.connectStream("x", xv.data(), xv.data() + xv.size());
  engine.connectStream("y", yv.data(), yv.data() + yv.size());
  engine.connectStream("sum", sumv.data(), sumv.data() + sumv.size());
  engine.connectStream("shifted", shiftedv.data(), shiftedv.data() + shiftedv.size());
  engine.connectStream("dropped", droppedv.data(), droppedv.data() + droppedv.size());
  engine.run(0);

  // Host reference in double; the device computes in float: 1e-5 covers an 8-term float dot
  // product, a GELU and a 4-term sum of values below 2 many times over.
  int bad = 0;
  std::vector<double> columnSums(out, 0.0);
  for (std::size_t i = 0; i < batch; ++i)
    for (std::size_t j = 0; j < out; ++j) {
      double z = bv[j];
      for (std::size_t k = 0; k < in; ++k) z += static_cast<double>(xv[i * in + k]) * wv[k * out + j];
      const double g = 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
      columnSums[j] += g;
      bad += std::fabs(yv[i * out + j] - g) > 1e-5;
      bad += std::fabs(shiftedv[i * out + j] - (2 * g - 1)) > 2e-5;
      bad += droppedv[i * out + j] != 0.0f && std::fabs(droppedv[i * out + j] - 2 * yv[i * out + j]) > 1e-6;
    }
  for (std::size_t j = 0; j < out; ++j) bad += std::fabs(sumv[j] - columnSums[j]) > 1e-5;
  std::printf("y[0] = %g %g %g; column sums %g %g %g\n", yv[0], yv[1], yv[2], sumv[0], sumv[1], sumv[2]);
  return bad == 0 ? 0 : 1;
}
