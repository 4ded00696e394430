#include <gcl/Collectives.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/GraphState.hpp"
#include "core/HostValues.hpp"
#include "core/Kernel.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {
struct CommGroupAccess {
  static gcl::CommGroupType type(const gcl::CommGroup &g) { return g.mReplicaGroupType; }
  static unsigned size(const gcl::CommGroup &g) { return g.mReplicaGroupSize; }
  static unsigned stride(const gcl::CommGroup &g) { return g.mReplicaGroupStride; }
};
} // namespace poplar_emulator

namespace gcl {
namespace {

using poplar_emulator::KernelArray;
using poplar_emulator::KernelIo;

const char *opName(CollectiveOperator op) {
  switch (op) {
  case ADD: return "ADD";
  case MEAN: return "MEAN";
  case MUL: return "MUL";
  case MIN: return "MIN";
  case MAX: return "MAX";
  case LOGICAL_AND: return "LOGICAL_AND";
  case LOGICAL_OR: return "LOGICAL_OR";
  case SQUARE_ADD: return "SQUARE_ADD";
  case LOCAL: return "LOCAL";
  }
  return "?";
}

// Element i of a kernel array as double, and back: floats for FLOAT/HALF, raw values otherwise.
double load(const KernelArray &a, std::size_t i) {
  if (a.floats) return a.floats[i];
  return poplar_emulator::loadAsDouble(static_cast<const unsigned char *>(a.raw) + i * a.elementBytes, a.type);
}
void store(KernelArray &a, std::size_t i, double v) {
  if (a.floats) a.floats[i] = static_cast<float>(v);
  else poplar_emulator::storeFromDouble(static_cast<unsigned char *>(a.raw) + i * a.elementBytes, a.type, v);
}

double first(CollectiveOperator op, double v) { return op == SQUARE_ADD ? v * v : v; }
double combine(CollectiveOperator op, double acc, double v) {
  switch (op) {
  case ADD:
  case MEAN: return acc + v;
  case SQUARE_ADD: return acc + v * v;
  case MUL: return acc * v;
  case MIN: return std::min(acc, v);
  case MAX: return std::max(acc, v);
  case LOGICAL_AND: return (acc != 0 && v != 0) ? 1 : 0;
  case LOGICAL_OR: return (acc != 0 || v != 0) ? 1 : 0;
  case LOCAL: return acc;
  }
  return acc;
}

// Members of each replica's group, in order; validates the group against the replication factor.
std::vector<std::vector<unsigned>> groups(const CommGroup &g, unsigned rf, const std::string &name) {
  using poplar_emulator::CommGroupAccess;
  const CommGroupType type = CommGroupAccess::type(g);
  const unsigned stride = CommGroupAccess::stride(g);
  unsigned size = type == ALL || CommGroupAccess::size(g) == 0 ? rf : CommGroupAccess::size(g);
  if (size == 0 || rf % size != 0)
    throw poplar::poplar_error("gcl op '" + name + "': group size " + std::to_string(size) + " does not divide the replication factor " +
                               std::to_string(rf));
  if (stride != 1)
    throw poplar::poplar_error("gcl op '" + name + "': only replica group stride 1 is supported, not " + std::to_string(stride));
  std::vector<std::vector<unsigned>> out;
  unsigned count = rf / size;
  for (unsigned k = 0; k < count; ++k) {
    std::vector<unsigned> members;
    for (unsigned p = 0; p < size; ++p) members.push_back(type == ORTHOGONAL ? k + p * count : k * size + p);
    out.push_back(members);
  }
  return out;
}

poplar_emulator::KernelCost linkCost(const poplar::Tensor &t, double fraction) {
  poplar_emulator::KernelCost c;
  double bytes = static_cast<double>(t.numElements() * poplar_emulator::typeInfo(t.elementType()).size);
  c.ipuLinkBytes = bytes * fraction;
  c.exchangeBytes = bytes;
  c.flops = static_cast<double>(t.numElements());
  c.half = t.elementType() == poplar::HALF;
  return c;
}

void checkValid(const poplar::Tensor &t, const std::string &name) {
  if (!t.valid()) throw poplar::poplar_error("gcl op '" + name + "': the input tensor is not valid");
}

// Reduces input 0 of every member of each group into output 0 of every member (in replica order).
void addAllReduce(poplar::Graph &graph, const poplar::Tensor &in, const poplar::Tensor &out, CollectiveOperator op,
                  poplar::program::Sequence &prog, const CommGroup &group, const std::string &name) {
  auto gs = groups(group, graph.getReplicationFactor(), name);
  double size = static_cast<double>(gs.front().size());
  poplar_emulator::CrossReplicaKernel k;
  k.name = name;
  k.inputs = {in};
  k.outputs = {out};
  k.cost = linkCost(in, 2 * (size - 1) / size);
  k.body = [gs, op](std::vector<KernelIo> &ios) {
    std::map<unsigned, KernelIo *> byReplica;
    for (KernelIo &io : ios) byReplica[io.replica()] = &io;
    for (const auto &members : gs) {
      std::vector<KernelIo *> present;
      for (unsigned m : members)
        if (byReplica.count(m)) present.push_back(byReplica[m]);
      if (present.empty()) continue;
      if (present.size() != members.size())
        throw poplar::poplar_error("a gcl all-reduce ran on only some replicas of its group");
      std::size_t n = present[0]->input(0).numElements;
      std::vector<double> acc(n);
      for (std::size_t i = 0; i < n; ++i) {
        double a = first(op, load(present[0]->input(0), i));
        for (std::size_t p = 1; p < present.size(); ++p) a = combine(op, a, load(present[p]->input(0), i));
        acc[i] = op == MEAN ? a / static_cast<double>(present.size()) : a;
      }
      for (KernelIo *io : present)
        for (std::size_t i = 0; i < n; ++i) store(io->output(0), i, op == LOCAL ? load(io->input(0), i) : acc[i]);
    }
  };
  k.groups = gs;
  poplar_emulator::addCrossReplicaKernel(graph, prog, std::move(k));
}

} // namespace

poplar::Tensor allReduceCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                     poplar::program::Sequence &prog, const CommGroup &group,
                                     const poplar::DebugContext &debugContext, const poplar::OptionFlags &) {
  std::string name = poplar::DebugContext(debugContext, std::string("allReduce") + opName(op)).getPathName();
  checkValid(data, name);
  poplar::Tensor out = graph.clone(data, poplar::DebugContext(debugContext, "allReduceOut"));
  addAllReduce(graph, data, out, op, prog, group, name);
  return out;
}

void allReduceInPlaceCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                  poplar::program::Sequence &prog, const CommGroup &group,
                                  const poplar::DebugContext &debugContext, const poplar::OptionFlags &) {
  std::string name = poplar::DebugContext(debugContext, std::string("allReduceInPlace") + opName(op)).getPathName();
  checkValid(data, name);
  addAllReduce(graph, data, data, op, prog, group, name);
}

poplar::Tensor reduceScatterCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                         poplar::program::Sequence &prog, const CommGroup &group,
                                         const poplar::DebugContext &debugContext, const poplar::OptionFlags &) {
  std::string name = poplar::DebugContext(debugContext, std::string("reduceScatter") + opName(op)).getPathName();
  checkValid(data, name);
  auto gs = groups(group, graph.getReplicationFactor(), name);
  std::size_t size = gs.front().size();
  std::size_t n = data.numElements();
  std::size_t piece = (n + size - 1) / size;
  poplar::Tensor out = graph.addVariable(data.elementType(), {piece}, poplar::DebugContext(debugContext, "reduceScatterOut"));
  // The piece lives where the first elements of the input do.
  auto mapping = graph.getTileMapping(data.flatten(), false);
  unsigned tile = 0;
  for (unsigned t = 0; t < mapping.size(); ++t)
    if (!mapping[t].empty()) {
      tile = t;
      break;
    }
  graph.setTileMapping(out, tile);
  poplar_emulator::CrossReplicaKernel k;
  k.name = name;
  k.inputs = {data};
  k.outputs = {out};
  k.cost = linkCost(data, static_cast<double>(size - 1) / static_cast<double>(size));
  k.body = [gs, op, piece, n](std::vector<KernelIo> &ios) {
    std::map<unsigned, KernelIo *> byReplica;
    for (KernelIo &io : ios) byReplica[io.replica()] = &io;
    for (const auto &members : gs) {
      if (!byReplica.count(members[0])) continue;
      for (std::size_t p = 0; p < members.size(); ++p) {
        KernelIo *dst = byReplica.at(members[p]);
        for (std::size_t j = 0; j < piece; ++j) {
          std::size_t i = p * piece + j;
          if (i >= n) {
            store(dst->output(0), j, 0);
            continue;
          }
          double a = first(op, load(byReplica.at(members[0])->input(0), i));
          for (std::size_t q = 1; q < members.size(); ++q) a = combine(op, a, load(byReplica.at(members[q])->input(0), i));
          if (op == MEAN) a /= static_cast<double>(members.size());
          if (op == LOCAL) a = load(dst->input(0), i);
          store(dst->output(0), j, a);
        }
      }
    }
  };
  k.groups = gs;
  poplar_emulator::addCrossReplicaKernel(graph, prog, std::move(k));
  return out;
}

poplar::Tensor allGatherCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, poplar::program::Sequence &prog,
                                     const CommGroup &group, const poplar::DebugContext &debugContext,
                                     const poplar::OptionFlags &) {
  std::string name = poplar::DebugContext(debugContext, "allGather").getPathName();
  checkValid(data, name);
  auto gs = groups(group, graph.getReplicationFactor(), name);
  std::size_t size = gs.front().size();
  std::vector<poplar::Tensor> rows;
  for (std::size_t p = 0; p < size; ++p) rows.push_back(graph.clone(data, poplar::DebugContext(debugContext, "allGatherOut")).expand({0}));
  poplar::Tensor out = poplar::concat(rows, 0);
  poplar_emulator::CrossReplicaKernel k;
  k.name = name;
  k.inputs = {data};
  k.outputs = {out};
  k.cost = linkCost(out, static_cast<double>(size - 1) / static_cast<double>(size));
  k.body = [gs](std::vector<KernelIo> &ios) {
    std::map<unsigned, KernelIo *> byReplica;
    for (KernelIo &io : ios) byReplica[io.replica()] = &io;
    for (const auto &members : gs) {
      if (!byReplica.count(members[0])) continue;
      for (unsigned dstReplica : members) {
        KernelIo *dst = byReplica.at(dstReplica);
        std::size_t n = dst->input(0).numElements;
        for (std::size_t p = 0; p < members.size(); ++p)
          for (std::size_t i = 0; i < n; ++i) store(dst->output(0), p * n + i, load(byReplica.at(members[p])->input(0), i));
      }
    }
  };
  k.groups = gs;
  poplar_emulator::addCrossReplicaKernel(graph, prog, std::move(k));
  return out;
}

poplar::Tensor allGatherCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, poplar::program::Sequence &prog,
                                     const poplar::DebugContext &debugContext, const poplar::OptionFlags &options) {
  return allGatherCrossReplica(graph, data, prog, CommGroup(ALL, 0), debugContext, options);
}

namespace {
void checkPerIpu(poplar::Graph &graph, const poplar::Tensor &data, const std::string &name) {
  checkValid(data, name);
  unsigned ipus = graph.getTarget().getNumIPUs();
  if (data.rank() == 0 || data.dim(0) != ipus)
    throw poplar::poplar_error("gcl op '" + name + "': the outermost dimension must be the replica's " + std::to_string(ipus) +
                               " IPUs, but the tensor is " + data.shapeToString());
}
} // namespace

poplar::Tensor allReduceWithinReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                      poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                                      const poplar::OptionFlags &) {
  std::string name = poplar::DebugContext(debugContext, std::string("allReduceWithinReplica") + opName(op)).getPathName();
  checkPerIpu(graph, data, name);
  poplar::Tensor out = graph.clone(data, poplar::DebugContext(debugContext, "allReduceWithinReplicaOut"));
  double ipus = static_cast<double>(data.dim(0));
  poplar_emulator::Kernel k;
  k.name = name;
  k.inputs = {data};
  k.outputs = {out};
  k.cost = linkCost(data, 2 * (ipus - 1) / (ipus * ipus));
  k.body = [op](KernelIo &io) {
    const KernelArray &in = io.input(0);
    KernelArray &o = io.output(0);
    std::size_t slices = in.shape[0], n = in.numElements / slices;
    for (std::size_t i = 0; i < n; ++i) {
      double a = first(op, load(in, i));
      for (std::size_t s = 1; s < slices; ++s) a = combine(op, a, load(in, s * n + i));
      if (op == MEAN) a /= static_cast<double>(slices);
      for (std::size_t s = 0; s < slices; ++s) store(o, s * n + i, op == LOCAL ? load(in, s * n + i) : a);
    }
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));
  return out;
}

Chunks reduceScatterWithinReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                  poplar::program::Sequence &prog, const poplar::DebugContext &debugContext,
                                  const poplar::OptionFlags &) {
  std::string name = poplar::DebugContext(debugContext, std::string("reduceScatterWithinReplica") + opName(op)).getPathName();
  checkPerIpu(graph, data, name);
  std::size_t ipus = data.dim(0);
  std::size_t n = data.numElements() / ipus;
  std::size_t piece = (n + ipus - 1) / ipus;
  Chunks result;
  result.originalInput = data;
  std::vector<poplar::Tensor> outs;
  for (std::size_t i = 0; i < ipus; ++i) {
    std::size_t b = std::min(n, i * piece), e = std::min(n, b + piece);
    if (b == e) continue;
    // Chunk i is cloned from the matching part of slice i, so it lives on IPU i.
    poplar::Tensor c = graph.clone(data[i].flatten().slice(b, e), poplar::DebugContext(debugContext, "chunk"));
    result.chunks.emplace_back(c, static_cast<unsigned>(i), static_cast<unsigned>(b));
    outs.push_back(c);
  }
  poplar_emulator::Kernel k;
  k.name = name;
  k.inputs = {data};
  k.outputs = outs;
  k.cost = linkCost(data, static_cast<double>(ipus - 1) / static_cast<double>(ipus * ipus));
  std::vector<Chunk> chunks = result.chunks;
  k.body = [op, chunks, n, ipus](KernelIo &io) {
    const KernelArray &in = io.input(0);
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      KernelArray &o = io.output(c);
      for (std::size_t j = 0; j < o.numElements; ++j) {
        std::size_t i = chunks[c].offset + j;
        double a = first(op, load(in, i));
        for (std::size_t s = 1; s < ipus; ++s) a = combine(op, a, load(in, s * n + i));
        if (op == MEAN) a /= static_cast<double>(ipus);
        store(o, j, op == LOCAL ? load(in, chunks[c].index * n + i) : a);
      }
    }
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));
  return result;
}

poplar::Tensor allGatherWithinReplica(poplar::Graph &graph, const Chunks &toGather, poplar::program::Sequence &prog,
                                      const poplar::DebugContext &debugContext, const poplar::OptionFlags &) {
  std::string name = poplar::DebugContext(debugContext, "allGatherWithinReplica").getPathName();
  checkPerIpu(graph, toGather.originalInput, name);
  poplar::Tensor out = graph.clone(toGather.originalInput, poplar::DebugContext(debugContext, "allGatherWithinReplicaOut"));
  std::size_t ipus = out.dim(0);
  std::size_t n = out.numElements() / ipus;
  poplar_emulator::Kernel k;
  k.name = name;
  for (const Chunk &c : toGather.chunks) {
    checkValid(c.tensor, name);
    if (c.offset + c.tensor.numElements() > n)
      throw poplar::poplar_error("gcl op '" + name + "': a chunk at offset " + std::to_string(c.offset) + " runs past the " +
                                 std::to_string(n) + " elements of a slice");
    k.inputs.push_back(c.tensor);
  }
  k.outputs = {out};
  k.cost = linkCost(out, static_cast<double>(ipus - 1) / static_cast<double>(ipus * ipus));
  std::vector<Chunk> chunks = toGather.chunks;
  k.body = [chunks, n, ipus](KernelIo &io) {
    KernelArray &o = io.output(0);
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      const KernelArray &in = io.input(c);
      for (std::size_t s = 0; s < ipus; ++s)
        for (std::size_t j = 0; j < in.numElements; ++j) store(o, s * n + chunks[c].offset + j, load(in, j));
    }
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));
  return out;
}

} // namespace gcl
