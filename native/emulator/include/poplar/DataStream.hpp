#pragma once
// Host streams and remote (host-side DRAM) buffers, as the SDK's poplar::DataStream and RemoteBuffer.
#include <cstddef>
#include <memory>
#include <string>

#include <poplar/Type.hpp>

namespace poplar_emulator {
struct Access;
struct StreamInfo;
struct RemoteBufferInfo;
} // namespace poplar_emulator

namespace poplar {

class DataStream {
public:
  std::string handle() const;
  std::size_t numElements() const;
  Type elementType() const;

private:
  friend struct poplar_emulator::Access;
  DataStream(); // streams come from Graph::addHostToDeviceFIFO and friends
  std::shared_ptr<const poplar_emulator::StreamInfo> info_;
};

class RemoteBuffer {
public:
  std::string handle() const;
  size_t numElements() const;
  size_t getRepeats() const;
  Type elementType() const;

private:
  friend struct poplar_emulator::Access;
  RemoteBuffer(); // buffers come from Graph::addRemoteBuffer
  std::shared_ptr<const poplar_emulator::RemoteBufferInfo> info_;
};

} // namespace poplar
