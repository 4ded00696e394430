#pragma once
// One replica's device state while an engine runs: variable storage, floating-point control and the
// stochastic-rounding random source. Steps read and write tensors only through it.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/SeedRng.hpp"
#include "core/StoragePool.hpp"
#include "core/TensorImpl.hpp"

namespace poplar_emulator {

class EngineImpl;

// The floating-point control register: see poplar::FloatingPointBehaviour.
struct FpState {
  bool inv = false;
  bool div0 = false;
  bool oflo = false;
  bool esr = false;
  bool nanoo = false;
};

class ReplicaContext {
public:
  ReplicaContext(EngineImpl &engine, unsigned replica, std::uint64_t seed);
  unsigned replica() const { return replica_; }
  unsigned replicationFactor() const;
  EngineImpl &engine() { return engine_; }
  std::vector<std::vector<unsigned char>> &storage() { return storage_; }
  // A variable's storage over its live range only (zeroed when acquired: its value there is undefined). Each
  // returns the bytes it took or gave back.
  std::size_t acquire(std::size_t var, std::size_t bytes) {
    if (!storage_[var].empty() || bytes == 0) return 0;
    storage_[var] = pool_.take(bytes, live_);
    live_ += bytes;
    return bytes;
  }
  std::size_t pooledBytes() const { return pool_.pooledBytes(); }
  // All storage goes, pooled buffers too (another engine was loaded onto the device).
  void dropStorage() {
    std::vector<std::vector<unsigned char>>().swap(storage_);
    pool_.clear();
    live_ = 0;
  }
  std::size_t release(std::size_t var) {
    const std::size_t bytes = storage_[var].size();
    pool_.give(std::move(storage_[var]));
    storage_[var] = {};
    live_ -= bytes;
    return bytes;
  }

  // Elements of t in t's element type, host format, row-major.
  void readRaw(const TensorLayout &t, unsigned char *dst) const;
  void writeRaw(const TensorLayout &t, const unsigned char *src);
  // FLOAT and HALF tensors as float.
  void readFloats(const TensorLayout &t, float *dst) const;
  // Rounds to t's type and applies the floating-point behaviour; `op` names the writer in errors.
  void writeFloats(const TensorLayout &t, const float *src, const std::string &op);
  // The variable's floats when t is one stride-1 run of a FLOAT variable, else null.
  float *directFloats(const TensorLayout &t);
  // Applies the exception checks to floats already written in place (directFloats).
  void checkFloats(const TensorLayout &t, const float *values, const std::string &op) const;

  FpState fp;
  SeedRng &roundingRandom() { return rounding_; }

private:
  [[noreturn]] void raise(const TensorLayout &t, const std::string &op, const char *what, std::size_t element,
                          float value) const;
  EngineImpl &engine_;
  unsigned replica_;
  std::vector<std::vector<unsigned char>> storage_; // per variable, host format
  std::size_t live_ = 0;                             // bytes of storage_ acquired over live ranges
  StoragePool pool_;
  SeedRng rounding_;
};

} // namespace poplar_emulator
