#pragma once
// The engine behind poplar::Engine: a frozen copy of the graph, one ReplicaContext per replica,
// connected host streams, remote buffer storage and the memory and cycle reports.
#include <cstddef>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/OptionFlags.hpp>
#include <poplar/Program.hpp>
#include <poplar/StreamCallback.hpp>

#include "core/GraphState.hpp"
#include "core/HostWorkers.hpp"
#include "core/Instances.hpp"
#include "core/DeviceState.hpp"
#include "core/Memory.hpp"
#include "core/ProgramNode.hpp"
#include "core/ReplicaContext.hpp"
#include "core/Report.hpp"

namespace poplar_emulator {

class EngineImpl {
public:
  EngineImpl(const poplar::Graph &graph, const std::vector<poplar::program::Program> &programs,
             const poplar::OptionFlags &options);
  const GraphState &graph() const { return *state_; }
  unsigned replicationFactor() const { return state_->replicationFactor; }
  // The replicas this instance runs: [firstLocalReplica, firstLocalReplica + numLocalReplicas).
  unsigned firstLocalReplica() const { return firstLocal_; }
  unsigned numLocalReplicas() const { return numLocal_; }
  bool isLocal(unsigned replica) const { return replica >= firstLocal_ && replica - firstLocal_ < numLocal_; }
  // The other instances, when this one runs only some replicas; else null.
  const Instances *instances() const { return instances_.get(); }

  void load(const poplar::Device &device);
  void run(unsigned program);
  void readTensor(const std::string &handle, void *buf, void *bufEnd);
  void writeTensor(const std::string &handle, const void *buf, const void *bufEnd);
  void connectStream(const std::string &handle, void *p, void *pEnd);
  void connectStream(const std::string &handle, void *p);
  // replica: one replica, or every replica run here when kAllReplicas.
  static constexpr unsigned kAllReplicas = ~0u;
  void connectStreamToCallback(const std::string &handle, unsigned replica, poplar::StreamCallbackHandle f);
  void copyToRemoteBuffer(const void *buf, const std::string &handle, std::uint64_t repeat, unsigned replica);
  void copyFromRemoteBuffer(const std::string &handle, void *buf, std::uint64_t repeat, unsigned replica);
  std::size_t remoteBufferBytes(const std::string &handle) const;

  // For steps: the callback serving a replica's block of the stream (null when a buffer serves it), the current
  // host entry of a connected buffer, and moving to the next one.
  poplar::StreamCallback *streamCallback(const StreamInfo &stream, unsigned replica);
  unsigned char *streamEntry(const StreamInfo &stream);
  void advanceStream(const StreamInfo &stream);
  std::size_t streamBlockBytes(const StreamInfo &stream) const;
  std::vector<unsigned char> &remoteStorage(const RemoteBufferInfo &buffer, unsigned replica);
  std::mt19937 &kernelRandom(const StepNode *step, unsigned replica);
  HostWorkers &workers() { return *workers_; }
  void setHostThreads(unsigned threads) { workers_ = std::make_unique<HostWorkers>(threads == 0 ? 1 : threads); }

  const MemoryReport &memory() const { return memory_; }
  const CycleReport &lastRun() const { return lastRun_; }
  HostStorage hostStorage() const;
  ~EngineImpl();
  EngineImpl(const EngineImpl &) = delete;
  EngineImpl &operator=(const EngineImpl &) = delete;
  // Called by the device when another engine is loaded onto it, or when it is destroyed.
  void unload();
  void deviceDestroyed();

private:
  void allocateStorage();
  // Throws, naming op, when another engine was loaded onto this one's device since it was loaded.
  void throwIfDisplaced(const char *op) const;
  // Before a host access: storage of an engine never loaded is allocated on first use; one unloaded since has none.
  void checkHeld(const char *op);
  void execute(const ProgramNode &node, const std::vector<unsigned> &active);
  void runStep(const StepNode &step, const std::vector<unsigned> &active);
  void acquireStorage(const StepNode &step, const std::vector<unsigned> &active);
  void runOnReplicas(const StepNode &step, const std::vector<unsigned> &active);
  bool predicate(const poplar::Tensor &t, unsigned replica);

  std::shared_ptr<GraphState> state_;
  std::vector<NodePtr> programs_;
  unsigned firstLocal_ = 0;
  unsigned numLocal_ = 0;
  std::unique_ptr<Instances> instances_;
  std::vector<std::unique_ptr<ReplicaContext>> replicas_; // by replica index; null for replicas of other instances
  struct StepCost {
    StepCycles cycles;
    double ipuLinkBytes = 0;
    double remoteBytes = 0;
    std::vector<unsigned> ipus; // within a replica: the timelines the step advances
  };
  std::vector<double> ipuClock_; // the current run's cycles on each IPU of a replica
  std::map<const StepNode *, StepCost> stepCosts_;
  VariableLifetimes lifetimes_; // which variables hold storage when (the memory report's liveness)
  HostStorage storage_;
  std::set<const StepNode *> threaded_; // steps worth a thread per replica
  std::map<std::pair<const StepNode *, unsigned>, std::mt19937> kernelRandom_;
  struct ConnectedStream {
    unsigned char *begin = nullptr;
    std::size_t entries = 0;
    std::size_t next = 0;
  };
  std::map<std::string, ConnectedStream> streams_;
  // By handle, then replica (kAllReplicas: every replica without one of its own).
  std::map<std::string, std::map<unsigned, std::shared_ptr<poplar::StreamCallback>>> callbacks_;
  std::map<std::string, std::vector<std::vector<unsigned char>>> remote_;
  MemoryReport memory_;
  CycleReport lastRun_;
  bool loaded_ = false;
  bool allocated_ = false;  // the variables and remote buffers have storage
  bool displaced_ = false;  // another engine was loaded onto this one's device after it
  const DeviceState *device_ = nullptr;
  std::unique_ptr<HostWorkers> workers_ = std::make_unique<HostWorkers>(1);
};

} // namespace poplar_emulator
