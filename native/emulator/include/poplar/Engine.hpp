#pragma once
// Compiles a graph and its programs and runs them, as the SDK's poplar::Engine.
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <poplar/ArrayRef.hpp>
#include <poplar/Device.hpp>
#include <poplar/Graph.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Program.hpp>
#include <poplar/StreamCallback.hpp>
#include <poplar/StringRef.hpp>
#include <poplar/exceptions.hpp>

namespace poplar_emulator {
struct Access;
class EngineImpl;
} // namespace poplar_emulator

namespace poplar {

typedef std::function<void(int, int)> ProgressFunc;

class Engine {
public:
  Engine(const Graph &graph, ArrayRef<program::Program> progs, const OptionFlags &opts = {},
         ProgressFunc progressCallBack = ProgressFunc(), const DebugContext &debugContext = {});
  Engine(const Graph &graph, program::Program prog, const OptionFlags &opts = {},
         ProgressFunc progressCallBack = ProgressFunc(), const DebugContext &debugContext = {});
  Engine(Engine &&other) noexcept;
  Engine &operator=(Engine &&other) noexcept;
  ~Engine();

  void load(const Device &device);
  void run(unsigned prog = 0, const std::string &debugName = "");

  // Host buffers hold the tensor's elements row-major in host format (HALF as IEEE binary16 uint16_t);
  // for a replicated graph either one copy (read: replica 0; write: every replica) or one per replica.
  void readTensor(StringRef handle, void *buf, void *bufEnd);
  template <typename T> void readTensor(StringRef handle, gccs::ArrayRef<T> buf) {
    T *p = const_cast<T *>(buf.data());
    readTensor(handle, p, p + buf.size());
  }
  void writeTensor(StringRef handle, const void *buf, const void *bufEnd);
  template <typename T> void writeTensor(StringRef handle, ArrayRef<T> buf) {
    writeTensor(handle, buf.data(), buf.data() + buf.size());
  }

  // A stream's host buffer holds one block per replica (REPLICATE) or one block (BROADCAST);
  // [p, pEnd) may hold several such entries, used in turn and then from the start again.
  void connectStream(StringRef handle, void *p, void *pEnd);
  void connectStream(StringRef handle, void *p);
  template <typename T> void connectStream(StringRef handle, const gccs::ArrayRef<T> &buf) {
    T *p = const_cast<T *>(buf.data());
    connectStream(handle, p, p + buf.size());
  }

  // A callback serves the stream instead of a buffer: for one replica (replicaIndex), or without it for every
  // replica this engine runs, called once per replica and transfer with that replica's block. The latest
  // connection of a replica wins; connectStream connects every replica to its buffer again.
  void connectStreamToCallback(StringRef handle, StreamCallbackHandle f);
  void connectStreamToCallback(StringRef handle, unsigned replicaIndex, StreamCallbackHandle f);

  void copyToRemoteBuffer(void *buf, StringRef handle, uint64_t repeatIndex, unsigned replicationIndex = 0);
  template <typename T>
  void copyToRemoteBuffer(ArrayRef<T> buf, StringRef handle, uint64_t repeatIndex, unsigned replicationIndex = 0) {
    checkRemoteBufferSize(handle, buf.size() * sizeof(T));
    copyToRemoteBuffer(const_cast<T *>(buf.data()), handle, repeatIndex, replicationIndex);
  }
  void copyFromRemoteBuffer(StringRef handle, void *buf, uint64_t repeatIndex, unsigned replicationIndex = 0);
  template <typename T>
  void copyFromRemoteBuffer(StringRef handle, gccs::ArrayRef<T> buf, uint64_t repeatIndex,
                            unsigned replicationIndex = 0) {
    checkRemoteBufferSize(handle, buf.size() * sizeof(T));
    copyFromRemoteBuffer(handle, const_cast<T *>(buf.data()), repeatIndex, replicationIndex);
  }

  // Memory per IPU and the last run's cycle estimate, as text.
  void printProfileSummary(std::ostream &out, const OptionFlags &opts);

private:
  friend struct poplar_emulator::Access;
  void checkRemoteBufferSize(StringRef handle, std::size_t bytes) const;
  std::unique_ptr<poplar_emulator::EngineImpl> impl_;
};

} // namespace poplar
