// A program written for the Poplar SDK that calls popops and poplin but nothing of poputil itself: the op libraries
// must find the libraries they use beside them in the installed prefix (a linker with --as-needed, the default on
// several distributions, leaves libraries a program does not call out of its own list). Two IPUs: a scaled add on
// IPU 0 reads an operand held on IPU 1, then a matmul and a row reduction, checked against a float64 host loop.
//   g++ -std=c++17 two_ipu_matmul.cpp -I DIR/include -L DIR/lib
//       -lpoplar -lpoplin -lpopops -lpopnn -lpoprand -lpoputil -lgcl -Wl,-rpath,DIR/lib
#include <cmath>
#include <cstdio>
#include <vector>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <poplin/MatMul.hpp>
#include <poplin/codelets.hpp>
#include <popops/Reduce.hpp>
#include <popops/ScaledAdd.hpp>
#include <popops/codelets.hpp>

int main() {
  poplar::IPUModel model;
  model.numIPUs = 2;
  model.tilesPerIPU = 4;
  poplar::Device device = model.createDevice();
  poplar::Graph graph(device.getTarget());
  popops::addCodelets(graph);
  poplin::addCodelets(graph);
  const unsigned n = 16;
  poplar::Tensor a = graph.addVariable(poplar::FLOAT, {n, n}, "a");
  poplar::Tensor b = graph.addVariable(poplar::FLOAT, {n, n}, "b");
  graph.setTileMapping(a, 0);
  graph.setTileMapping(b, 5); // a tile of the second IPU
  poplar::program::Sequence prog;
  popops::scaledAddTo(graph, a, b, 0.5f, prog, "accumulate");
  poplar::Tensor c = poplin::matMul(graph, a, b, prog, "product");
  poplar::Tensor rows = popops::reduce(graph, c, {1}, {popops::Operation::ADD}, prog, "rowSums");
  graph.createHostWrite("a", a);
  graph.createHostWrite("b", b);
  graph.createHostRead("rows", rows);

  std::vector<float> ha(n * n), hb(n * n), out(n);
  for (unsigned i = 0; i < n * n; ++i) {
    ha[i] = std::sin(0.1f * static_cast<float>(i));
    hb[i] = std::cos(0.07f * static_cast<float>(i));
  }
  poplar::Engine engine(graph, prog);
  engine.load(device);
  engine.writeTensor("a", ha.data(), ha.data() + ha.size());
  engine.writeTensor("b", hb.data(), hb.data() + hb.size());
  engine.run(0);
  engine.readTensor("rows", out.data(), out.data() + out.size());

  double worst = 0;
  for (unsigned i = 0; i < n; ++i) {
    double sum = 0;
    for (unsigned j = 0; j < n; ++j)
      for (unsigned k = 0; k < n; ++k)
        sum += (double(ha[i * n + k]) + 0.5 * double(hb[i * n + k])) * double(hb[k * n + j]);
    worst = std::fmax(worst, std::fabs(sum - double(out[i])) / (1 + std::fabs(sum)));
  }
  std::printf("two-IPU scaled add, matmul and row sums: worst relative error %.3g\n", worst);
  return worst < 1e-5 ? 0 : 1; // float32 over 16-term sums: about 1e-7
}
