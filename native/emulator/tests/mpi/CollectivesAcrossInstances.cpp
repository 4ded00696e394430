// Run as `mpirun -np 2`: two host instances, each running 2 of the 4 replicas of one global graph
// (target.firstRuntimeReplica / numberRuntimeReplica). Every gcl collective, for every group type, must
// give the same bits as the same program with all 4 replicas in one process; host streams and
// readTensor/writeTensor address only the local replicas; mismatched engines fail on every instance.
// Exits non-zero on any failure on any instance.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <mpi.h>

#include <gcl/Collectives.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <poplar/exceptions.hpp>
#include <poputil/TileMapping.hpp>

#include "core/Half.hpp"

namespace {

constexpr unsigned kReplicas = 4;
int rank = 0, instances = 1;
int failures = 0;

void fail(const std::string &what) {
  ++failures;
  std::cerr << "instance " << rank << ": FAIL " << what << "\n";
}

poplar::Device device(unsigned tilesPerIPU = 4) {
  poplar::IPUModel model;
  model.numIPUs = kReplicas;
  model.tilesPerIPU = tilesPerIPU;
  poplar::Device d = model.createDevice();
  d.attach();
  return d;
}

// Replica r's input: magnitudes from 1e-3 to 1e3 and both signs, so the summation order shows in the bits.
float inputValue(unsigned r, std::size_t i) {
  double scale = std::pow(10.0, static_cast<double>(i % 7) - 3.0);
  return static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 1.3 * r) * scale + 0.01 * (r + 1));
}

struct Local {
  unsigned first = 0, count = kReplicas;
  bool options = false; // set the runtime-replica options (false: one process runs every replica)
};

poplar::OptionFlags engineOptions(const Local &l) {
  poplar::OptionFlags o;
  if (l.options) {
    o.set("target.firstRuntimeReplica", std::to_string(l.first));
    o.set("target.numberRuntimeReplica", std::to_string(l.count));
  }
  return o;
}

struct Outputs {
  std::vector<std::string> names;
  std::vector<std::vector<unsigned char>> bytes; // per output: the local replicas' values, in replica order
};

// Every collective x group type on a FLOAT input fed by a replicated stream and a HALF input written with
// writeTensor; every output read back per local replica, one of them also through a device-to-host stream.
Outputs runCollectives(const Local &l, std::size_t n) {
  poplar::Device dev = device();
  poplar::Graph graph(dev.getTarget(), poplar::replication_factor(kReplicas));
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {n}, "x");
  poplar::Tensor xh = graph.addVariable(poplar::HALF, {n}, "xh");
  graph.setTileMapping(x, 0);
  graph.setTileMapping(xh, 1);
  graph.createHostWrite("xh", xh);
  auto inStream = graph.addHostToDeviceFIFO("x", poplar::FLOAT, n, poplar::ReplicatedStreamMode::REPLICATE);
  poplar::program::Sequence prog;
  prog.add(poplar::program::Copy(inStream, x));

  struct Group {
    const char *name;
    gcl::CommGroup group;
  };
  const Group groups[] = {{"ALL", gcl::CommGroup(gcl::ALL, 0)},
                          {"CONSECUTIVE2", gcl::CommGroup(gcl::CONSECUTIVE, 2)},
                          {"ORTHOGONAL2", gcl::CommGroup(gcl::ORTHOGONAL, 2)}};
  std::vector<std::string> names;
  std::vector<std::size_t> sizes;
  auto read = [&](const std::string &name, const poplar::Tensor &t) {
    graph.createHostRead(name, t);
    names.push_back(name);
    sizes.push_back(t.numElements() * (t.elementType() == poplar::HALF ? 2 : 4));
  };
  poplar::Tensor sumAll;
  for (const Group &g : groups) {
    std::string s = g.name;
    poplar::Tensor sum = gcl::allReduceCrossReplica(graph, x, gcl::ADD, prog, g.group, "sum" + s);
    read("allReduceAdd." + s, sum);
    if (s == "ALL") sumAll = sum;
    read("allReduceMean." + s, gcl::allReduceCrossReplica(graph, x, gcl::MEAN, prog, g.group, "mean" + s));
    read("allReduceMax." + s, gcl::allReduceCrossReplica(graph, x, gcl::MAX, prog, g.group, "max" + s));
    poplar::Tensor y = graph.clone(x, "y" + s);
    prog.add(poplar::program::Copy(x, y));
    gcl::allReduceInPlaceCrossReplica(graph, y, gcl::ADD, prog, g.group, "inPlace" + s);
    read("allReduceInPlaceAdd." + s, y);
    read("reduceScatterAdd." + s, gcl::reduceScatterCrossReplica(graph, x, gcl::ADD, prog, g.group, "scatter" + s));
    read("allGather." + s, gcl::allGatherCrossReplica(graph, x, prog, g.group, "gather" + s));
    read("halfAllReduceAdd." + s, gcl::allReduceCrossReplica(graph, xh, gcl::ADD, prog, g.group, "halfSum" + s));
  }
  auto outStream = graph.addDeviceToHostFIFO("sumOut", poplar::FLOAT, n);
  prog.add(poplar::program::Copy(sumAll, outStream));

  poplar::Engine engine(graph, prog, engineOptions(l));
  engine.load(dev);
  std::vector<float> xs(l.count * n);
  std::vector<std::uint16_t> hs(l.count * n);
  for (unsigned k = 0; k < l.count; ++k)
    for (std::size_t i = 0; i < n; ++i) {
      xs[k * n + i] = inputValue(l.first + k, i);
      // Halves near 1 with 10 fraction bits: sums of four need rounding.
      hs[k * n + i] = poplar_emulator::floatToHalfRne(1.0f + inputValue(l.first + k, i) * 1e-3f);
    }
  engine.connectStream("x", xs.data(), xs.data() + xs.size());
  std::vector<float> streamed(l.count * n);
  engine.connectStream("sumOut", streamed.data(), streamed.data() + streamed.size());
  engine.writeTensor("xh", hs.data(), hs.data() + hs.size());
  engine.run(0);
  Outputs out;
  for (std::size_t k = 0; k < names.size(); ++k) {
    std::vector<unsigned char> b(sizes[k] * l.count);
    engine.readTensor(names[k], b.data(), b.data() + b.size());
    out.names.push_back(names[k]);
    out.bytes.push_back(std::move(b));
  }
  out.names.push_back("stream sumOut");
  out.bytes.emplace_back(reinterpret_cast<unsigned char *>(streamed.data()),
                         reinterpret_cast<unsigned char *>(streamed.data() + streamed.size()));
  return out;
}

void collectivesMatchOneProcess(const Local &mine) {
  const std::size_t n = 1003; // not a multiple of the group sizes: reduceScatter pads
  Outputs across = runCollectives(mine, n);
  Outputs whole = runCollectives(Local{}, n);
  for (std::size_t k = 0; k < across.names.size(); ++k) {
    const auto &all = whole.bytes[k];
    std::size_t perReplica = all.size() / kReplicas;
    std::vector<unsigned char> expected(all.begin() + mine.first * perReplica,
                                        all.begin() + (mine.first + mine.count) * perReplica);
    if (across.bytes[k] != expected) fail(across.names[k] + ": differs from the same program with 4 replicas in one process");
  }
  // The values themselves: the ALL sum is the four inputs summed in double in replica order, rounded once.
  std::vector<float> sum(mine.count * n);
  std::memcpy(sum.data(), across.bytes[0].data(), sum.size() * sizeof(float));
  for (unsigned k = 0; k < mine.count; ++k)
    for (std::size_t i = 0; i < n; ++i) {
      double s = 0;
      for (unsigned r = 0; r < kReplicas; ++r) s += inputValue(r, i);
      if (sum[k * n + i] != static_cast<float>(s)) {
        fail("allReduceAdd.ALL element " + std::to_string(i) + " is " + std::to_string(sum[k * n + i]) + ", not " +
             std::to_string(s));
        return;
      }
    }
  if (rank == 0) std::cout << "compared " << across.names.size() << " outputs bit for bit\n";
}

template <class F> void expectError(const std::string &what, const std::string &needle, F f) {
  try {
    f();
    fail(what + ": no error");
  } catch (const poplar::poplar_error &e) {
    if (std::string(e.what()).find(needle) == std::string::npos) fail(what + ": unexpected message: " + e.what());
  }
}

poplar::Engine smallEngine(const Local &l, bool extraVariable) {
  poplar::Device dev = device();
  poplar::Graph graph(dev.getTarget(), poplar::replication_factor(kReplicas));
  poplar::Tensor x = graph.addVariable(poplar::FLOAT, {4}, "x");
  graph.setTileMapping(x, 0);
  if (extraVariable) graph.setTileMapping(graph.addVariable(poplar::FLOAT, {4}, "extra"), 0);
  poplar::program::Sequence prog;
  gcl::allReduceInPlaceCrossReplica(graph, x, gcl::ADD, prog, gcl::CommGroup(gcl::ALL, 0), "sum");
  return poplar::Engine(graph, prog, engineOptions(l));
}

void mismatchedEnginesFail(const Local &mine) {
  expectError("instances building different graphs", "build different engines",
              [&] { smallEngine(mine, rank == 1); });
  Local overlapping = mine;
  if (rank == 1) overlapping.first = 1, overlapping.count = 3;
  expectError("instances with overlapping replica ranges", "but the next replica to run is",
              [&] { smallEngine(overlapping, false); });
}

// 1M floats summed over 4 replicas: 2 instances x 2 replicas against 4 replicas in one process.
void timeLargeAllReduce(const Local &mine) {
  const std::size_t n = std::size_t{1} << 20;
  auto timeIt = [&](const Local &l, std::vector<float> &result) {
    poplar::Device dev = device(16); // 4 MiB of floats over 16 tiles of 624 KiB
    poplar::Graph graph(dev.getTarget(), poplar::replication_factor(kReplicas));
    poplar::Tensor x = graph.addVariable(poplar::FLOAT, {n}, "x");
    poputil::mapTensorLinearly(graph, x);
    graph.createHostWrite("x", x);
    poplar::program::Sequence prog;
    gcl::allReduceInPlaceCrossReplica(graph, x, gcl::ADD, prog, gcl::CommGroup(gcl::ALL, 0), "sum");
    graph.createHostRead("x", x);
    poplar::Engine engine(graph, prog, engineOptions(l));
    engine.load(dev);
    std::vector<float> in(l.count * n);
    for (unsigned k = 0; k < l.count; ++k)
      for (std::size_t i = 0; i < n; ++i) in[k * n + i] = inputValue(l.first + k, i);
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      engine.writeTensor("x", in.data(), in.data() + in.size());
      MPI_Barrier(MPI_COMM_WORLD);
      auto t0 = std::chrono::steady_clock::now();
      engine.run(0);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    result.resize(n);
    engine.readTensor("x", result.data(), result.data() + n);
    return best;
  };
  std::vector<float> across, whole;
  double tAcross = timeIt(mine, across);
  double tWhole = timeIt(Local{}, whole);
  if (across != whole) fail("1M-float all-reduce across instances differs from one process");
  if (rank == 0)
    std::cout << "all-reduce of " << n << " floats, best of 3: 2 instances x 2 replicas " << tAcross * 1e3
              << " ms, 4 replicas in one process " << tWhole * 1e3 << " ms\n";
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &instances);
  if (instances != 2) {
    if (rank == 0) std::cerr << "run with mpirun -np 2 (got " << instances << " instances)\n";
    MPI_Finalize();
    return 2;
  }
  Local mine{static_cast<unsigned>(rank) * 2, 2, true};
  try {
    collectivesMatchOneProcess(mine);
    mismatchedEnginesFail(mine);
    timeLargeAllReduce(mine);
  } catch (const std::exception &e) {
    fail(std::string("unexpected exception: ") + e.what());
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::cout << (total == 0 ? "PASS" : "FAILED") << " (" << total << " failures over " << instances << " instances)\n";
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
