#pragma once
// A graph of variables mapped to tiles, as the SDK's poplar::Graph. A virtual graph (createVirtualGraph)
// is a tile range of its parent and shares its variables, streams and functions.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <poplar/ArrayRef.hpp>
#include <poplar/DataStream.hpp>
#include <poplar/DebugContext.hpp>
#include <poplar/Device.hpp>
#include <poplar/GraphElements.hpp>
#include <poplar/Interval.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Program.hpp>
#include <poplar/ReplicatedStreamMode.hpp>
#include <poplar/StringRef.hpp>
#include <poplar/Target.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/TensorCloneMethod.hpp>
#include <poplar/Type.hpp>
#include <poplar/TypeTraits.hpp>
#include <poplar/VariableMappingMethod.hpp>

namespace poplar_emulator {
struct Access;
struct GraphImpl;
} // namespace poplar_emulator

namespace poplar {

struct replication_factor {
  replication_factor(unsigned factor) : value(factor) {}
  unsigned value;
};

class Graph {
public:
  using TileToTensorMapping = std::vector<std::vector<Interval>>;

  Graph();
  Graph(const Target &target, replication_factor r = replication_factor(1));
  Graph(const Device &device, replication_factor r = replication_factor(1));
  Graph(Graph &&other) noexcept;
  Graph &operator=(Graph &&other) noexcept;
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;
  ~Graph();

  const Target &getTarget() const;

  Tensor addVariable(const Type &type, ArrayRef<std::size_t> shape, const DebugContext &debugContext = {});
  Tensor addVariable(const Type &type, const Tensor &metadata, ArrayRef<std::size_t> shape,
                     const DebugContext &debugContext = {});
  Tensor addVariable(const Type &type, ArrayRef<std::size_t> shape, VariableMappingMethod mappingMethod,
                     const DebugContext &debugContext = {});
  Tensor addVariable(const Type &type, const Tensor &metadata, ArrayRef<std::size_t> shape,
                     VariableMappingMethod mappingMethod, const DebugContext &debugContext = {});

  template <typename T>
  Tensor addConstant(const Type &type, ArrayRef<std::size_t> shape, ArrayRef<T> values,
                     const DebugContext &debugContext = {"<const>"}) {
    checkConstantSize(shape, values.size(), debugContext);
    return addConstant(type, shape, values.data(), TypeTraits::make<T>(), false, debugContext);
  }
  template <typename T>
  Tensor addConstant(const Type &type, ArrayRef<std::size_t> shape, T val,
                     const DebugContext &debugContext = {"<const>"}) {
    return addConstant(type, shape, &val, TypeTraits::make<T>(), true, debugContext);
  }
  template <typename T>
  Tensor addConstant(const Type &type, ArrayRef<std::size_t> shape, const T *values,
                     const DebugContext &debugContext = {"<const>"}) {
    return addConstant(type, shape, values, TypeTraits::make<T>(), false, debugContext);
  }
  Tensor addConstant(const Type &type, ArrayRef<std::size_t> shape, const void *data, const TypeTraits &traits,
                     bool broadcast, const DebugContext &debugContext = {"<const>"});
  Tensor addConstantHalf(const Type &type, ArrayRef<std::size_t> shape, uint16_t val,
                         const DebugContext &debugContext = {"<const>"});
  Tensor addConstantHalf(const Type &type, ArrayRef<std::size_t> shape, const uint16_t *values,
                         const DebugContext &debugContext = {"<const>"});

  Tensor clone(const Type &type, const Tensor &t, const DebugContext &debugContext = {},
               TensorCloneMethod method = TensorCloneMethod::PRESERVE_ORDER_UNLESS_ALIASES);
  Tensor clone(const Tensor &t, const DebugContext &debugContext = {},
               TensorCloneMethod method = TensorCloneMethod::PRESERVE_ORDER_UNLESS_ALIASES);

  void setTileMapping(const Tensor &t, unsigned tileNum);
  void setTileMapping(const Tensor &t, const TileToTensorMapping &mapping);
  TileToTensorMapping getTileMapping(const Tensor &t, bool requireComplete = true,
                                     bool allowExternalTiles = false) const;
  TileToTensorMapping getTileMapping(const Tensor &t, bool *isComplete, bool allowExternalTiles = false) const;

  Graph createVirtualGraph(unsigned numTilesPerIPU);
  Graph createVirtualGraph(unsigned lowerTile, unsigned upperTile);
  Graph createVirtualGraph(const std::vector<unsigned> &perIpuTiles);

  unsigned getReplicationFactor() const;
  Tensor addReplicationIndexConstant(const DebugContext &debugContext = {});

  RemoteBuffer addRemoteBuffer(StringRef handle, const Type &elementType, std::size_t numElements,
                               std::size_t repeats = 1, bool rearrangeOnHost = false, bool optimiseMemory = false);
  DataStream addHostToDeviceFIFO(StringRef handle, const Type &elementType, std::size_t numElements,
                                 ReplicatedStreamMode replicatedMode = ReplicatedStreamMode::REPLICATE,
                                 const OptionFlags &options = {});
  DataStream addDeviceToHostFIFO(StringRef handle, const Type &elementType, std::size_t numElements,
                                 const OptionFlags &options = {});
  void createHostWrite(StringRef handle, const Tensor &t, bool rearrangeOnHost = false);
  void createHostRead(StringRef handle, const Tensor &t, bool rearrangeOnHost = false);

  Function addFunction(const program::Program &program);

  template <typename T> void setInitialValue(const Tensor &t, ArrayRef<T> values) {
    setInitialValueData(t, values.data(), values.size(), TypeTraits::make<T>());
  }
  void setInitialValueHalf(const Tensor &t, uint16_t val);
  void setInitialValueHalf(const Tensor &t, ArrayRef<uint16_t> values);

private:
  friend struct poplar_emulator::Access;
  void checkConstantSize(ArrayRef<std::size_t> shape, std::size_t count, const DebugContext &debugContext) const;
  void setInitialValueData(const Tensor &t, const void *data, std::size_t count, const TypeTraits &traits);
  std::shared_ptr<poplar_emulator::GraphImpl> impl_;
};

} // namespace poplar
