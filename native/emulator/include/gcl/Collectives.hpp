#pragma once
// Collectives across replicas and across the IPUs of one replica, as the SDK's gcl/Collectives.hpp.
#include <vector>

#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

namespace gcl {

// ALL: every replica. CONSECUTIVE(k): replicas [0,k), [k,2k), ... ORTHOGONAL(k): replicas with the
// same index modulo (replicationFactor / k), i.e. {0, R/k, 2R/k, ...}, {1, 1+R/k, ...}, ...
enum CommGroupType { ALL, CONSECUTIVE, ORTHOGONAL };

struct CommGroup {
  CommGroup(const CommGroupType groupType, unsigned groupSize, unsigned groupStride = 1)
      : type(groupType), replicaGroupSize(groupSize), replicaGroupStride(groupStride) {}
  CommGroupType type;
  unsigned replicaGroupSize;
  unsigned replicaGroupStride;
};

// LOCAL leaves each replica's value as it is; SQUARE_ADD sums the squares.
enum CollectiveOperator { ADD, MEAN, MUL, MIN, MAX, LOGICAL_AND, LOGICAL_OR, SQUARE_ADD, LOCAL };

struct Chunk {
  Chunk() = default;
  Chunk(poplar::Tensor tensor, unsigned index, unsigned offset) : tensor(tensor), index(index), offset(offset) {}
  poplar::Tensor tensor;
  unsigned index = 0;  // the IPU holding the chunk
  unsigned offset = 0; // the chunk's first element in a flattened slice of the original input
};

struct Chunks {
  poplar::Tensor originalInput;
  std::vector<Chunk> chunks;
};

poplar::Tensor allReduceCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                     poplar::program::Sequence &prog, const CommGroup &group,
                                     const poplar::DebugContext &debugContext = {},
                                     const poplar::OptionFlags &options = {});
void allReduceInPlaceCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                  poplar::program::Sequence &prog, const CommGroup &group,
                                  const poplar::DebugContext &debugContext = {},
                                  const poplar::OptionFlags &options = {});
// data is flattened and split into groupSize equal pieces (the last padded with zeros); the replica at
// position p of its group gets the reduced piece p.
poplar::Tensor reduceScatterCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                         poplar::program::Sequence &prog, const CommGroup &group,
                                         const poplar::DebugContext &debugContext = {},
                                         const poplar::OptionFlags &options = {});
// Result shape [groupSize, data's shape]: row p is the data of the group's replica at position p.
poplar::Tensor allGatherCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, poplar::program::Sequence &prog,
                                     const CommGroup &group, const poplar::DebugContext &debugContext = {},
                                     const poplar::OptionFlags &options = {});
poplar::Tensor allGatherCrossReplica(poplar::Graph &graph, const poplar::Tensor &data, poplar::program::Sequence &prog,
                                     const poplar::DebugContext &debugContext = {},
                                     const poplar::OptionFlags &options = {});

// Within one replica, data's outermost dimension indexes the replica's IPUs (slice i lives on IPU i).
poplar::Tensor allReduceWithinReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                      poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                                      const poplar::OptionFlags &options = {});
Chunks reduceScatterWithinReplica(poplar::Graph &graph, const poplar::Tensor &data, CollectiveOperator op,
                                  poplar::program::Sequence &prog, const poplar::DebugContext &debugContext = {},
                                  const poplar::OptionFlags &options = {});
poplar::Tensor allGatherWithinReplica(poplar::Graph &graph, const Chunks &toGather, poplar::program::Sequence &prog,
                                      const poplar::DebugContext &debugContext = {},
                                      const poplar::OptionFlags &options = {});

} // namespace gcl
