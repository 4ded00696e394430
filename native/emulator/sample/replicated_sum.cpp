// A standalone Poplar program, written against the SDK's API only: two replicas each receive a vector
// from a host stream, square it into a remote buffer and back, sum it across replicas with gcl and
// stream the result to the host.
//   g++ -std=c++17 replicated_sum.cpp -I DIR/include -L DIR/lib
//       -lpoplar -lpoplin -lpopops -lpopnn -lpoprand -lpoputil -lgcl
#include <cstdio>
#include <vector>

#include <gcl/Collectives.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <poputil/TileMapping.hpp>

int main() {
  poplar::IPUModel ipuModel;
  ipuModel.numIPUs = 2;
  ipuModel.tilesPerIPU = 16;
  poplar::Device device = ipuModel.createDevice();
  poplar::Graph graph(device.getTarget(), poplar::replication_factor(2));

  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {4}, "x");
  poplar::Tensor y = graph.addVariable(poplar::FLOAT, {4}, "y");
  poputil::mapTensorLinearly(graph, x);
  poputil::mapTensorLinearly(graph, y);
  poplar::DataStream in = graph.addHostToDeviceFIFO("in", poplar::FLOAT, 4);
  poplar::DataStream out = graph.addDeviceToHostFIFO("out", poplar::FLOAT, 4);
  poplar::RemoteBuffer stash = graph.addRemoteBuffer("stash", poplar::FLOAT, 4, 1);

  poplar::program::Sequence prog;
  prog.add(poplar::program::Copy(in, x));
  prog.add(poplar::program::Copy(x, stash));
  prog.add(poplar::program::Copy(stash, y));
  poplar::Tensor sum = gcl::allReduceCrossReplica(graph, y, gcl::ADD, prog, gcl::CommGroup(gcl::ALL, 0), "sum");
  prog.add(poplar::program::Copy(sum, out));

  poplar::Engine engine(graph, prog);
  engine.load(device);
  std::vector<float> input{1, 2, 3, 4, 10, 20, 30, 40}; // replica 0, then replica 1
  std::vector<float> result(8);
  engine.connectStream("in", input.data(), input.data() + input.size());
  engine.connectStream("out", result.data(), result.data() + result.size());
  engine.run(0);

  std::vector<float> stashed(4);
  engine.copyFromRemoteBuffer("stash", stashed.data(), 0, 1);
  const float expected[8] = {11, 22, 33, 44, 11, 22, 33, 44};
  int bad = 0;
  for (int i = 0; i < 8; ++i) bad += result[i] != expected[i];
  for (int i = 0; i < 4; ++i) bad += stashed[i] != input[4 + i];
  std::printf("sum on replica 0: %g %g %g %g; replica 1 stashed %g %g %g %g\n", result[0], result[1], result[2],
              result[3], stashed[0], stashed[1], stashed[2], stashed[3]);
  return bad == 0 ? 0 : 1;
}
