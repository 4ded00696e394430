#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <set>

#include <poplar/Graph.hpp>
#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/GraphState.hpp"
#include "core/HostValues.hpp"
#include "core/Layout.hpp"
#include "core/ProgramNode.hpp"
#include "core/TensorImpl.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {

GraphImpl &Access::impl(const poplar::Graph &g) {
  if (!g.impl_) throw poplar::poplar_error("poplar::Graph: the graph is empty (default-constructed or moved from)");
  return *g.impl_;
}

std::uint32_t addVariableTo(GraphState &state, const poplar::Type &type, const std::vector<std::size_t> &shape,
                            const std::string &name) {
  typeInfo(type, name.empty() ? "variable" : name.c_str());
  VarInfo v;
  v.name = name.empty() ? "var" + std::to_string(state.vars.size()) : name;
  v.type = type;
  v.shape = shape;
  v.numElements = product(shape);
  state.vars.push_back(std::move(v));
  return static_cast<std::uint32_t>(state.vars.size() - 1);
}

namespace {

const TensorImpl &tensorOf(const GraphImpl &g, const poplar::Tensor &t, const char *what) {
  const auto &impl = Access::impl(t);
  if (!impl) throw poplar::poplar_error(std::string(what) + ": the tensor is not valid (default-constructed)");
  if (impl->graph != g.state) throw poplar::poplar_error(std::string(what) + ": the tensor belongs to another graph");
  return *impl;
}

void mapPiece(GraphState &state, const Segment &s, unsigned tile) {
  TileMap &map = state.vars[s.var].mapping;
  if (s.stride == 1) {
    map.assign(static_cast<std::size_t>(s.start), static_cast<std::size_t>(s.start) + s.count, tile);
  } else {
    std::size_t n = s.stride == 0 ? 1 : s.count;
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = static_cast<std::size_t>(s.start + static_cast<std::int64_t>(k) * s.stride);
      map.assign(i, i + 1, tile);
    }
  }
}

// Spreads the elements over the graph's tiles in order, in chunks that are multiples of grainSize
// and at least minElementsPerTile (as poputil::mapTensorLinearly does).
void mapLinearly(GraphImpl &g, const TensorImpl &t, std::size_t minElementsPerTile, std::size_t grainSize) {
  std::size_t n = t.numElements();
  if (n == 0) return;
  std::size_t tiles = g.tiles.size();
  std::size_t grain = std::max<std::size_t>(1, grainSize);
  std::size_t grains = (n + grain - 1) / grain;
  std::size_t perTile = ((grains + tiles - 1) / tiles) * grain;
  perTile = std::max(perTile, std::max<std::size_t>(1, minElementsPerTile));
  for (std::size_t begin = 0, tile = 0; begin < n; begin += perTile, ++tile) {
    std::size_t end = std::min(n, begin + perTile);
    forEachPiece(t, begin, end, [&](const Segment &s) { mapPiece(*g.state, s, g.tiles[std::min(tile, tiles - 1)]); });
  }
}

poplar::Target targetOfTiles(const poplar::Target &replica, const std::vector<unsigned> &tiles) {
  std::set<unsigned> ipus;
  for (unsigned t : tiles) ipus.insert(t / replica.getTilesPerIPU());
  poplar::Target out = replica;
  unsigned numIPUs = static_cast<unsigned>(std::max<std::size_t>(1, ipus.size()));
  Access::setNumIPUs(out, numIPUs, static_cast<unsigned>(tiles.size() / numIPUs));
  return out;
}

} // namespace

void mapTensorLinearly(GraphImpl &g, const poplar::Tensor &t, std::size_t minElementsPerTile, std::size_t grainSize) {
  mapLinearly(g, tensorOf(g, t, "mapTensorLinearly"), minElementsPerTile, grainSize);
}

} // namespace poplar_emulator

namespace poplar {

using namespace poplar_emulator;

Graph::Graph() = default;
Graph::Graph(Graph &&other) noexcept = default;
Graph &Graph::operator=(Graph &&other) noexcept = default;
Graph::~Graph() = default;

Graph::Graph(const Target &target, replication_factor r) {
  if (r.value == 0 || target.getNumIPUs() % r.value != 0)
    throw poplar_error("poplar::Graph: replication factor " + std::to_string(r.value) + " does not divide the target's " +
                       std::to_string(target.getNumIPUs()) + " IPUs");
  auto state = std::make_shared<GraphState>();
  state->replicaTarget = target;
  Access::setNumIPUs(state->replicaTarget, target.getNumIPUs() / r.value, target.getTilesPerIPU());
  state->replicationFactor = r.value;
  impl_ = std::make_shared<GraphImpl>();
  impl_->state = state;
  impl_->tiles.resize(state->replicaTarget.getNumTiles());
  std::iota(impl_->tiles.begin(), impl_->tiles.end(), 0u);
  impl_->target = state->replicaTarget;
}
Graph::Graph(const Device &device, replication_factor r) : Graph(device.getTarget(), r) {}

const Target &Graph::getTarget() const { return Access::impl(*this).target; }

Tensor Graph::addVariable(const Type &type, ArrayRef<std::size_t> shape, const DebugContext &debugContext) {
  GraphImpl &g = Access::impl(*this);
  std::vector<std::size_t> s(shape.begin(), shape.end());
  std::uint32_t v = addVariableTo(*g.state, type, s, debugContext.getPathName());
  return variableTensor(g.state, v, type, s);
}
Tensor Graph::addVariable(const Type &type, const Tensor &, ArrayRef<std::size_t> shape,
                          const DebugContext &debugContext) {
  return addVariable(type, shape, debugContext);
}
Tensor Graph::addVariable(const Type &type, ArrayRef<std::size_t> shape, VariableMappingMethod mappingMethod,
                          const DebugContext &debugContext) {
  Tensor t = addVariable(type, shape, debugContext);
  if (mappingMethod == VariableMappingMethod::LINEAR) {
    GraphImpl &g = Access::impl(*this);
    mapTensorLinearly(g, t, 1, getTarget().getVectorWidth(type));
  }
  return t;
}
Tensor Graph::addVariable(const Type &type, const Tensor &, ArrayRef<std::size_t> shape,
                          VariableMappingMethod mappingMethod, const DebugContext &debugContext) {
  return addVariable(type, shape, mappingMethod, debugContext);
}

void Graph::checkConstantSize(ArrayRef<std::size_t> shape, std::size_t count, const DebugContext &debugContext) const {
  std::size_t n = product({shape.begin(), shape.end()});
  if (n != count)
    throw poplar_error("poplar::Graph::addConstant '" + debugContext.getPathName() + "': shape " + shapeString({shape.begin(), shape.end()}) +
                       " holds " + std::to_string(n) + " elements but " + std::to_string(count) + " values were given");
}

Tensor Graph::addConstant(const Type &type, ArrayRef<std::size_t> shape, const void *data, const TypeTraits &traits,
                          bool broadcast, const DebugContext &debugContext) {
  GraphImpl &g = Access::impl(*this);
  std::vector<std::size_t> s(shape.begin(), shape.end());
  std::uint32_t v = addVariableTo(*g.state, type, s, debugContext.getPathName());
  VarInfo &var = g.state->vars[v];
  var.constant = true;
  var.initial = toDeviceFormat(data, traits, broadcast ? 1 : var.numElements, type, var.numElements);
  return variableTensor(g.state, v, type, s);
}
Tensor Graph::addConstantHalf(const Type &type, ArrayRef<std::size_t> shape, uint16_t val,
                              const DebugContext &debugContext) {
  std::vector<uint16_t> values(product({shape.begin(), shape.end()}), val);
  return addConstantHalf(type, shape, values.data(), debugContext);
}
Tensor Graph::addConstantHalf(const Type &type, ArrayRef<std::size_t> shape, const uint16_t *values,
                              const DebugContext &debugContext) {
  GraphImpl &g = Access::impl(*this);
  if (type != HALF) throw poplar_error("poplar::Graph::addConstantHalf '" + debugContext.getPathName() + "': the type must be HALF");
  std::vector<std::size_t> s(shape.begin(), shape.end());
  std::uint32_t v = addVariableTo(*g.state, type, s, debugContext.getPathName());
  VarInfo &var = g.state->vars[v];
  var.constant = true;
  var.initial.resize(var.numElements * 2);
  if (var.numElements) std::memcpy(var.initial.data(), values, var.numElements * 2);
  return variableTensor(g.state, v, type, s);
}

Tensor Graph::clone(const Type &type, const Tensor &t, const DebugContext &debugContext, TensorCloneMethod) {
  GraphImpl &g = Access::impl(*this);
  const TensorImpl &src = tensorOf(g, t, "poplar::Graph::clone");
  Tensor out = addVariable(type, src.shape, debugContext);
  std::uint32_t v = Access::impl(out)->segments.empty() ? 0 : Access::impl(out)->segments[0].var;
  // The clone is mapped as the original is.
  forEachTileRun(*g.state, src, [&](std::size_t b, std::size_t e, long tile) {
    if (tile >= 0) g.state->vars[v].mapping.assign(b, e, static_cast<unsigned>(tile));
  });
  return out;
}
Tensor Graph::clone(const Tensor &t, const DebugContext &debugContext, TensorCloneMethod method) {
  return clone(t.elementType(), t, debugContext, method);
}

void Graph::setTileMapping(const Tensor &t, unsigned tileNum) {
  GraphImpl &g = Access::impl(*this);
  const TensorImpl &ti = tensorOf(g, t, "poplar::Graph::setTileMapping");
  if (tileNum >= g.tiles.size())
    throw poplar_error("poplar::Graph::setTileMapping: tile " + std::to_string(tileNum) + " is not in this graph (" +
                       std::to_string(g.tiles.size()) + " tiles)");
  for (const Segment &s : ti.segments) mapPiece(*g.state, s, g.tiles[tileNum]);
}
void Graph::setTileMapping(const Tensor &t, const TileToTensorMapping &mapping) {
  GraphImpl &g = Access::impl(*this);
  const TensorImpl &ti = tensorOf(g, t, "poplar::Graph::setTileMapping");
  if (mapping.size() > g.tiles.size())
    throw poplar_error("poplar::Graph::setTileMapping: the mapping names " + std::to_string(mapping.size()) +
                       " tiles but this graph has " + std::to_string(g.tiles.size()));
  std::size_t n = ti.numElements();
  for (std::size_t tile = 0; tile < mapping.size(); ++tile)
    for (const Interval &iv : mapping[tile]) {
      if (iv.end() > n || iv.begin() > iv.end())
        throw poplar_error("poplar::Graph::setTileMapping: interval [" + std::to_string(iv.begin()) + ", " +
                           std::to_string(iv.end()) + ") is outside the tensor's " + std::to_string(n) + " elements");
      forEachPiece(ti, iv.begin(), iv.end(), [&](const Segment &s) { mapPiece(*g.state, s, g.tiles[tile]); });
    }
}
Graph::TileToTensorMapping Graph::getTileMapping(const Tensor &t, bool *isComplete, bool allowExternalTiles) const {
  GraphImpl &g = Access::impl(*this);
  const TensorImpl &ti = tensorOf(g, t, "poplar::Graph::getTileMapping");
  std::vector<long> virtualOf(g.state->replicaTarget.getNumTiles(), -1);
  for (std::size_t i = 0; i < g.tiles.size(); ++i) virtualOf[g.tiles[i]] = static_cast<long>(i);
  TileToTensorMapping out(g.tiles.size());
  bool complete = true;
  forEachTileRun(*g.state, ti, [&](std::size_t b, std::size_t e, long tile) {
    if (tile < 0) {
      complete = false;
      return;
    }
    long vt = virtualOf[static_cast<std::size_t>(tile)];
    if (vt < 0) {
      if (!allowExternalTiles)
        throw poplar_error("poplar::Graph::getTileMapping: the tensor has elements on tile " + std::to_string(tile) +
                           ", outside this graph");
      return;
    }
    auto &list = out[static_cast<std::size_t>(vt)];
    if (!list.empty() && list.back().end() == b) list.back() = Interval(list.back().begin(), e);
    else list.emplace_back(b, e);
  });
  if (isComplete) *isComplete = complete;
  return out;
}
Graph::TileToTensorMapping Graph::getTileMapping(const Tensor &t, bool requireComplete, bool allowExternalTiles) const {
  bool complete = true;
  TileToTensorMapping m = getTileMapping(t, &complete, allowExternalTiles);
  if (requireComplete && !complete)
    throw poplar_error("poplar::Graph::getTileMapping: the tensor " + t.shapeToString() + " is not completely mapped");
  return m;
}

Graph Graph::createVirtualGraph(unsigned numTilesPerIPU) {
  GraphImpl &g = Access::impl(*this);
  unsigned perIpu = g.state->replicaTarget.getTilesPerIPU();
  std::vector<unsigned> tiles;
  std::map<unsigned, unsigned> countOnIpu;
  for (unsigned t : g.tiles)
    if (countOnIpu[t / perIpu]++ < numTilesPerIPU) tiles.push_back(t);
  auto impl = std::make_shared<GraphImpl>(GraphImpl{g.state, tiles, targetOfTiles(g.state->replicaTarget, tiles)});
  return Access::makeGraph(std::move(impl));
}
Graph Graph::createVirtualGraph(unsigned lowerTile, unsigned upperTile) {
  GraphImpl &g = Access::impl(*this);
  if (lowerTile >= upperTile || upperTile > g.tiles.size())
    throw poplar_error("poplar::Graph::createVirtualGraph: tiles [" + std::to_string(lowerTile) + ", " +
                       std::to_string(upperTile) + ") are not a non-empty range of this graph's " +
                       std::to_string(g.tiles.size()) + " tiles");
  std::vector<unsigned> tiles(g.tiles.begin() + lowerTile, g.tiles.begin() + upperTile);
  auto impl = std::make_shared<GraphImpl>(GraphImpl{g.state, tiles, targetOfTiles(g.state->replicaTarget, tiles)});
  return Access::makeGraph(std::move(impl));
}
Graph Graph::createVirtualGraph(const std::vector<unsigned> &perIpuTiles) {
  GraphImpl &g = Access::impl(*this);
  unsigned perIpu = g.target.getTilesPerIPU();
  std::vector<unsigned> tiles;
  for (unsigned ipu = 0; ipu < g.target.getNumIPUs(); ++ipu)
    for (unsigned t : perIpuTiles) {
      if (t >= perIpu) throw poplar_error("poplar::Graph::createVirtualGraph: tile " + std::to_string(t) + " is past the IPU's " + std::to_string(perIpu) + " tiles");
      tiles.push_back(g.tiles[ipu * perIpu + t]);
    }
  auto impl = std::make_shared<GraphImpl>(GraphImpl{g.state, tiles, targetOfTiles(g.state->replicaTarget, tiles)});
  return Access::makeGraph(std::move(impl));
}

unsigned Graph::getReplicationFactor() const { return Access::impl(*this).state->replicationFactor; }

Tensor Graph::addReplicationIndexConstant(const DebugContext &debugContext) {
  GraphImpl &g = Access::impl(*this);
  std::uint32_t v = addVariableTo(*g.state, UNSIGNED_INT, {}, debugContext.getPathName());
  g.state->vars[v].constant = true;
  g.state->vars[v].replicationIndex = true;
  g.state->vars[v].mapping.assign(0, 1, g.tiles[0]);
  return variableTensor(g.state, v, UNSIGNED_INT, {});
}

RemoteBuffer Graph::addRemoteBuffer(StringRef handle, const Type &elementType, std::size_t numElements,
                                    std::size_t repeats, bool, bool) {
  GraphImpl &g = Access::impl(*this);
  std::string h = handle.cloneAsString();
  typeInfo(elementType, "remote buffer");
  if (g.state->remoteBuffers.count(h)) throw poplar_error("poplar::Graph::addRemoteBuffer: handle '" + h + "' is already used");
  if (numElements == 0 || repeats == 0) throw poplar_error("poplar::Graph::addRemoteBuffer '" + h + "': numElements and repeats must be positive");
  auto info = std::make_shared<RemoteBufferInfo>(RemoteBufferInfo{h, elementType, numElements, repeats});
  g.state->remoteBuffers[h] = info;
  return Access::makeRemoteBuffer(info);
}

namespace {
DataStream addStream(GraphImpl &g, StringRef handle, const Type &type, std::size_t n, ReplicatedStreamMode mode, bool toDevice) {
  std::string h = handle.cloneAsString();
  typeInfo(type, "stream");
  if (g.state->streams.count(h)) throw poplar_error("poplar::Graph: stream handle '" + h + "' is already used");
  auto info = std::make_shared<StreamInfo>(StreamInfo{h, type, n, mode, toDevice});
  g.state->streams[h] = info;
  return Access::makeStream(info);
}
void addHostHandle(GraphImpl &g, StringRef handle, const Tensor &t, bool write) {
  const TensorImpl &ti = tensorOf(g, t, write ? "poplar::Graph::createHostWrite" : "poplar::Graph::createHostRead");
  std::string h = handle.cloneAsString();
  auto it = g.state->hostHandles.find(h);
  if (it != g.state->hostHandles.end()) {
    bool sameTensor = it->second.layout.type == ti.type && it->second.layout.shape == ti.shape;
    if ((write ? it->second.write : it->second.read) || !sameTensor)
      throw poplar_error("poplar::Graph: host handle '" + h + "' is already used");
  } else {
    it = g.state->hostHandles.emplace(h, HostHandle{static_cast<const TensorLayout &>(ti), false, false}).first;
  }
  (write ? it->second.write : it->second.read) = true;
}
} // namespace

DataStream Graph::addHostToDeviceFIFO(StringRef handle, const Type &elementType, std::size_t numElements,
                                      ReplicatedStreamMode replicatedMode, const OptionFlags &) {
  return addStream(Access::impl(*this), handle, elementType, numElements, replicatedMode, true);
}
DataStream Graph::addDeviceToHostFIFO(StringRef handle, const Type &elementType, std::size_t numElements,
                                      const OptionFlags &) {
  return addStream(Access::impl(*this), handle, elementType, numElements, ReplicatedStreamMode::REPLICATE, false);
}
void Graph::createHostWrite(StringRef handle, const Tensor &t, bool) { addHostHandle(Access::impl(*this), handle, t, true); }
void Graph::createHostRead(StringRef handle, const Tensor &t, bool) { addHostHandle(Access::impl(*this), handle, t, false); }

Function Graph::addFunction(const program::Program &program) {
  Access::impl(*this);
  const auto &node = Access::node(program);
  return Access::makeFunction(node ? NodePtr(node->snapshot()) : NodePtr(std::make_shared<SequenceNode>()));
}

void Graph::setInitialValueData(const Tensor &t, const void *data, std::size_t count, const TypeTraits &traits) {
  GraphImpl &g = Access::impl(*this);
  const TensorImpl &ti = tensorOf(g, t, "poplar::Graph::setInitialValue");
  if (count != ti.numElements())
    throw poplar_error("poplar::Graph::setInitialValue: the tensor " + shapeString(ti.shape) + " has " +
                       std::to_string(ti.numElements()) + " elements but " + std::to_string(count) + " values were given");
  std::vector<unsigned char> bytes = toDeviceFormat(data, traits, count, ti.type, count);
  std::size_t size = typeInfo(ti.type).size;
  std::size_t i = 0;
  std::set<std::uint32_t> vars;
  forEachElement(ti.segments, [&](std::uint32_t v, std::size_t index) {
    VarInfo &var = g.state->vars[v];
    if (var.initial.empty()) var.initial.assign(var.numElements * size, 0);
    std::memcpy(&var.initial[index * size], &bytes[i * size], size);
    vars.insert(v);
    ++i;
  });
  // The engine zero-fills a variable without one: an all-zero initial value (AdamW's moments) need not be kept.
  for (std::uint32_t v : vars) {
    std::vector<unsigned char> &initial = g.state->vars[v].initial;
    if (std::all_of(initial.begin(), initial.end(), [](unsigned char b) { return b == 0; }))
      std::vector<unsigned char>().swap(initial);
  }
}
void Graph::setInitialValueHalf(const Tensor &t, uint16_t val) {
  std::vector<uint16_t> values(t.numElements(), val);
  setInitialValueHalf(t, values);
}
void Graph::setInitialValueHalf(const Tensor &t, ArrayRef<uint16_t> values) {
  GraphImpl &g = Access::impl(*this);
  const TensorImpl &ti = tensorOf(g, t, "poplar::Graph::setInitialValueHalf");
  if (ti.type != HALF || values.size() != ti.numElements())
    throw poplar_error("poplar::Graph::setInitialValueHalf: needs a HALF tensor and one value per element");
  std::size_t i = 0;
  forEachElement(ti.segments, [&](std::uint32_t v, std::size_t index) {
    VarInfo &var = g.state->vars[v];
    if (var.initial.empty()) var.initial.assign(var.numElements * 2, 0);
    std::memcpy(&var.initial[index * 2], &values[i++], 2);
  });
}

} // namespace poplar
