#pragma once
// What a graph holds: variables with their tile mappings, streams, remote buffers and host handles.
// The top-level graph and all its virtual graphs share one GraphState.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <poplar/ReplicatedStreamMode.hpp>
#include <poplar/Target.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>

#include "core/TensorImpl.hpp"
#include "core/TileMap.hpp"

namespace poplar_emulator {

struct VarInfo {
  std::string name;
  poplar::Type type;
  std::vector<std::size_t> shape;
  std::size_t numElements = 0;
  TileMap mapping; // tiles are numbered within one replica: ipu * tilesPerIPU + tile
  bool constant = false;
  bool replicationIndex = false;     // a constant holding each replica's index
  std::vector<unsigned char> initial; // host-format initial value (constants, setInitialValue), or empty
};

struct StreamInfo {
  std::string handle;
  poplar::Type type;
  std::size_t numElements = 0;
  poplar::ReplicatedStreamMode mode = poplar::ReplicatedStreamMode::REPLICATE;
  bool toDevice = true;
};

struct RemoteBufferInfo {
  std::string handle;
  poplar::Type type;
  std::size_t numElements = 0;
  std::size_t repeats = 1;
};

struct HostHandle {
  TensorLayout layout;
  bool write = false;
  bool read = false;
};

struct GraphState {
  poplar::Target replicaTarget; // what one replica has: its IPUs and their tiles
  unsigned replicationFactor = 1;
  std::vector<VarInfo> vars;
  std::map<std::string, std::shared_ptr<const StreamInfo>> streams;
  std::map<std::string, std::shared_ptr<const RemoteBufferInfo>> remoteBuffers;
  std::map<std::string, HostHandle> hostHandles;
  std::uint64_t nextKernelId = 0;
};

struct GraphImpl {
  std::shared_ptr<GraphState> state;
  std::vector<unsigned> tiles; // this graph's tile i is the replica's tile tiles[i]
  poplar::Target target;       // this graph's view of the hardware
};

// Adds an unmapped variable and returns its index.
std::uint32_t addVariableTo(GraphState &state, const poplar::Type &type, const std::vector<std::size_t> &shape,
                            const std::string &name);

// Spreads a tensor's elements over the graph's tiles in order (poputil::mapTensorLinearly).
void mapTensorLinearly(GraphImpl &g, const poplar::Tensor &t, std::size_t minElementsPerTile, std::size_t grainSize);

} // namespace poplar_emulator
