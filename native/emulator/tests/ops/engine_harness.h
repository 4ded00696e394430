// Runs op graphs end to end on a small emulated IPU: inputs written from the host, outputs read back,
// HALF data converted to and from binary16 at the host boundary.
#pragma once

#include "op_reference.h"

#include "core/Access.hpp"
#include "core/GraphState.hpp"
#include "core/Half.hpp"

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ops_test {

class Harness {
public:
  explicit Harness(unsigned tilesPerIPU = 8) : device_(makeDevice(tilesPerIPU)), graph(device_.getTarget()) {}

  // A host-written variable spread over the tiles.
  poplar::Tensor input(const poplar::Type &type, const std::vector<std::size_t> &shape, const std::string &name) {
    poplar::Tensor t = graph.addVariable(type, shape, name);
    mapLinearly(t);
    graph.createHostWrite(name, t);
    types_[name] = type;
    return t;
  }

  void mapLinearly(const poplar::Tensor &t) {
    poplar_emulator::mapTensorLinearly(poplar_emulator::Access::impl(graph), t, 1, 1);
  }

  // A host write of a tensor the op made (already mapped).
  void writeBack(const std::string &name, const poplar::Tensor &t) {
    graph.createHostWrite(name, t);
    types_[name] = t.elementType();
  }

  void readBack(const std::string &name, const poplar::Tensor &t) {
    graph.createHostRead(name, t);
    types_[name] = t.elementType();
  }

  void set(const std::string &name, const std::vector<float> &values) { floats_[name] = values; }
  void setUnsigned(const std::string &name, const std::vector<unsigned> &values) { unsigneds_[name] = values; }

  // Builds the engine, writes the inputs set, runs prog once (or `runs` times) and keeps the engine.
  void run(unsigned runs = 1) {
    engine_ = std::make_unique<poplar::Engine>(graph, prog);
    engine_->load(device_);
    for (const auto &[name, values] : floats_)
      write(name, values);
    for (const auto &[name, values] : unsigneds_)
      engine_->writeTensor(name, values.data(), values.data() + values.size());
    for (unsigned r = 0; r < runs; ++r)
      engine_->run(0);
  }

  void runAgain() { engine_->run(0); }

  std::vector<float> read(const std::string &name, std::size_t count) {
    const poplar::Type type = types_.at(name);
    std::vector<float> out(count);
    if (type == poplar::HALF) {
      std::vector<std::uint16_t> bits(count);
      engine_->readTensor(name, bits.data(), bits.data() + count);
      for (std::size_t i = 0; i < count; ++i)
        out[i] = poplar_emulator::halfToFloat(bits[i]);
    } else if (type == poplar::FLOAT) {
      engine_->readTensor(name, out.data(), out.data() + count);
    } else if (type == poplar::INT) {
      std::vector<int> v(count);
      engine_->readTensor(name, v.data(), v.data() + count);
      for (std::size_t i = 0; i < count; ++i)
        out[i] = static_cast<float>(v[i]);
    } else if (type == poplar::UNSIGNED_INT) {
      std::vector<unsigned> v(count);
      engine_->readTensor(name, v.data(), v.data() + count);
      for (std::size_t i = 0; i < count; ++i)
        out[i] = static_cast<float>(v[i]);
    } else {
      std::vector<unsigned char> v(count);
      engine_->readTensor(name, v.data(), v.data() + count);
      for (std::size_t i = 0; i < count; ++i)
        out[i] = v[i];
    }
    return out;
  }

  poplar::program::Sequence prog;

private:
  static poplar::Device makeDevice(unsigned tiles) {
    poplar::IPUModel model;
    model.tilesPerIPU = tiles;
    poplar::Device d = model.createDevice();
    d.attach();
    return d;
  }

  void write(const std::string &name, const std::vector<float> &values) {
    const poplar::Type type = types_.at(name);
    if (type == poplar::HALF) {
      std::vector<std::uint16_t> bits(values.size());
      for (std::size_t i = 0; i < values.size(); ++i)
        bits[i] = poplar_emulator::floatToHalfRne(values[i]);
      engine_->writeTensor(name, bits.data(), bits.data() + bits.size());
    } else if (type == poplar::INT) {
      std::vector<int> v(values.begin(), values.end());
      engine_->writeTensor(name, v.data(), v.data() + v.size());
    } else if (type == poplar::BOOL) {
      std::vector<unsigned char> v(values.begin(), values.end());
      engine_->writeTensor(name, v.data(), v.data() + v.size());
    } else {
      engine_->writeTensor(name, values.data(), values.data() + values.size());
    }
  }

  poplar::Device device_;

public:
  poplar::Graph graph;

private:
  std::map<std::string, poplar::Type> types_;
  std::map<std::string, std::vector<float>> floats_;
  std::map<std::string, std::vector<unsigned>> unsigneds_;
  std::unique_ptr<poplar::Engine> engine_;
};

} // namespace ops_test
