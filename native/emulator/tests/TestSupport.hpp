#pragma once
// Small devices and element-wise kernels for the emulator's tests.
#include <functional>
#include <string>
#include <vector>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>

#include "core/Kernel.hpp"

namespace emulator_test {

inline poplar::Device smallDevice(unsigned numIPUs = 1, unsigned tilesPerIPU = 4, unsigned bytesPerTile = 624 * 1024) {
  poplar::IPUModel model;
  model.numIPUs = numIPUs;
  model.tilesPerIPU = tilesPerIPU;
  model.memoryBytesPerTile = bytesPerTile;
  poplar::Device d = model.createDevice();
  d.attach();
  return d;
}

// out[i] = f(in[i]) over float views (FLOAT or HALF tensors).
inline void mapKernel(poplar::Graph &graph, poplar::program::Sequence &prog, const poplar::Tensor &in,
                      const poplar::Tensor &out, std::function<float(float)> f, const std::string &name = "test/map") {
  poplar_emulator::Kernel k;
  k.name = name;
  k.inputs = {in};
  k.outputs = {out};
  k.cost.flops = static_cast<double>(in.numElements());
  k.body = [f](poplar_emulator::KernelIo &io) {
    const float *x = io.input(0).floats;
    float *y = io.output(0).floats;
    for (std::size_t i = 0; i < io.output(0).numElements; ++i) y[i] = f(x[i]);
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));
}

// Sets every element of a float view to `value`.
inline void fillKernel(poplar::Graph &graph, poplar::program::Sequence &prog, const poplar::Tensor &out, float value,
                       const std::string &name = "test/fill") {
  poplar_emulator::Kernel k;
  k.name = name;
  k.outputs = {out};
  k.body = [value](poplar_emulator::KernelIo &io) {
    for (std::size_t i = 0; i < io.output(0).numElements; ++i) io.output(0).floats[i] = value;
  };
  poplar_emulator::addKernel(graph, prog, std::move(k));
}

inline std::vector<float> readFloats(poplar::Engine &engine, const std::string &handle, std::size_t n) {
  std::vector<float> v(n);
  engine.readTensor(handle, v.data(), v.data() + n);
  return v;
}

inline std::vector<float> iota(std::size_t n, float start = 0) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

} // namespace emulator_test
