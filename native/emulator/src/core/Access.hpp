#pragma once
// The one door from the emulator's internals into the private parts of the public SDK classes.
#include <memory>
#include <optional>
#include <string>

#include <poplar/DataStream.hpp>
#include <poplar/Device.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Program.hpp>
#include <poplar/Target.hpp>
#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>
#include <poplar/TypeTraits.hpp>

namespace poplar_emulator {

struct TypeInfo;
struct TensorImpl;
struct GraphImpl;
struct StreamInfo;
struct RemoteBufferInfo;
class ProgramNode;
struct DeviceState;
class EngineImpl;

struct Access {
  static constexpr poplar::Type makeType(const TypeInfo *info) {
    poplar::Type t;
    t.info_ = info;
    return t;
  }
  static const TypeInfo *info(const poplar::Type &t) { return t.info_; }

  static bool isIntegral(const poplar::TypeTraits &t) { return t.isIntegral; }
  static std::unique_ptr<poplar::StreamCallback> release(poplar::StreamCallbackHandle &&h) {
    return std::move(h.callback_);
  }
  static bool isFloat(const poplar::TypeTraits &t) { return t.isFloat; }
  static bool isSigned(const poplar::TypeTraits &t) { return t.isSigned; }

  static poplar::Tensor makeTensor(std::shared_ptr<const TensorImpl> impl) { return poplar::Tensor(std::move(impl)); }
  static const std::shared_ptr<const TensorImpl> &impl(const poplar::Tensor &t) { return t.impl_; }

  static GraphImpl &impl(const poplar::Graph &g);
  static poplar::Graph makeGraph(std::shared_ptr<GraphImpl> impl) {
    poplar::Graph g;
    g.impl_ = std::move(impl);
    return g;
  }

  static const std::shared_ptr<poplar_emulator::ProgramNode> &node(const poplar::program::Program &p) {
    return p.node_;
  }
  static poplar::program::Program makeProgram(std::shared_ptr<ProgramNode> node) {
    return poplar::program::Program(std::move(node));
  }
  static const std::shared_ptr<const ProgramNode> &body(const poplar::Function &f) { return f.body_; }
  static poplar::Function makeFunction(std::shared_ptr<const ProgramNode> body) {
    poplar::Function f;
    f.body_ = std::move(body);
    return f;
  }

  static const std::shared_ptr<const StreamInfo> &info(const poplar::DataStream &s) { return s.info_; }
  static poplar::DataStream makeStream(std::shared_ptr<const StreamInfo> info) {
    poplar::DataStream s;
    s.info_ = std::move(info);
    return s;
  }
  static const std::shared_ptr<const RemoteBufferInfo> &info(const poplar::RemoteBuffer &b) { return b.info_; }
  static poplar::RemoteBuffer makeRemoteBuffer(std::shared_ptr<const RemoteBufferInfo> info) {
    poplar::RemoteBuffer b;
    b.info_ = std::move(info);
    return b;
  }

  static poplar::Target &mutableTarget(poplar::Target &t) { return t; }
  static double clockHz(const poplar::Target &t) { return t.tileClockFrequency_; }
  static unsigned exchangeBytesPerCycle(const poplar::Target &t) { return t.exchangeBytesPerCycle_; }
  static double ipuLinkBytesPerSecond(const poplar::Target &t) { return t.ipuLinkBytesPerSecond_; }
  static const std::string &arch(const poplar::Target &t) { return t.arch_; }
  static poplar::Target makeTarget(poplar::TargetType type, const std::string &arch, unsigned numIPUs,
                                   unsigned tilesPerIPU, unsigned bytesPerTile, double clockHz,
                                   unsigned exchangeBytesPerCycle, unsigned tilesPerSuperTile,
                                   unsigned numWorkerContexts) {
    poplar::Target t;
    t.type_ = type;
    t.arch_ = arch;
    t.numIPUs_ = numIPUs;
    t.tilesPerIPU_ = tilesPerIPU;
    t.bytesPerTile_ = bytesPerTile;
    t.tileClockFrequency_ = clockHz;
    t.exchangeBytesPerCycle_ = exchangeBytesPerCycle;
    t.tilesPerSuperTile_ = tilesPerSuperTile;
    t.numWorkerContexts_ = numWorkerContexts;
    return t;
  }
  static void setNumIPUs(poplar::Target &t, unsigned numIPUs, unsigned tilesPerIPU) {
    t.numIPUs_ = numIPUs;
    t.tilesPerIPU_ = tilesPerIPU;
  }

  static std::optional<std::string> option(const poplar::OptionFlags &o, const std::string &key) {
    auto it = o.values_.find(key);
    if (it == o.values_.end()) return std::nullopt;
    return it->second;
  }

  static DeviceState &state(const poplar::Device &d);
  static EngineImpl &impl(const poplar::Engine &e) { return *e.impl_; }
  static poplar::Device makeDevice(std::unique_ptr<DeviceState> state);
};

} // namespace poplar_emulator
