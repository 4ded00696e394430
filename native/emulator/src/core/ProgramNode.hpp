#pragma once
// The tree a poplar::program::Program stands for. Control nodes (Sequence, Repeat, If, ...) hold
// children; every leaf is a Step the engine runs per replica, or once for all replicas together.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <poplar/Tensor.hpp>
#include <poplar/Type.hpp>

#include "core/TensorImpl.hpp"

namespace poplar_emulator {

class ReplicaContext;

class ProgramNode : public std::enable_shared_from_this<ProgramNode> {
public:
  virtual ~ProgramNode() = default;
  // The node as a copy of the Program holding it sees it: immutable nodes are shared.
  virtual std::shared_ptr<ProgramNode> snapshot() { return shared_from_this(); }
};

using NodePtr = std::shared_ptr<const ProgramNode>;

struct SequenceNode : ProgramNode {
  std::vector<NodePtr> children;
  std::shared_ptr<ProgramNode> snapshot() override { return std::make_shared<SequenceNode>(*this); }
};

struct RepeatNode : ProgramNode {
  unsigned count = 0;
  NodePtr body;
};

// cond; while (predicate == whileTrue) { body; cond; }
struct RepeatWhileNode : ProgramNode {
  NodePtr cond;
  poplar::Tensor predicate;
  NodePtr body;
  bool whileTrue = true;
};

struct IfNode : ProgramNode {
  poplar::Tensor predicate;
  NodePtr thenBody;
  NodePtr elseBody;
};

struct CallNode : ProgramNode {
  NodePtr body;
};

enum class ComputeUnit { Vector, Amp };

// What a step costs in the cycle model (see core/CycleModel.hpp).
struct StepWork {
  double flops = 0;
  ComputeUnit unit = ComputeUnit::Vector;
  bool half = false;          // arithmetic in half (AMP and vector rates are higher)
  double exchangeBytes = 0;   // moved between tiles of one IPU
  double ipuLinkBytes = 0;    // moved between IPUs
  double hostBytes = 0;       // moved to or from the host
  double remoteBytes = 0;     // of those, moved to or from remote buffers (streaming memory)
  unsigned syncs = 1;         // BSP syncs the step ends with
  bool externalSync = false;
};

// The tensors a step touches: reads need their value, writes change it (a write that covers a whole
// variable ends its previous live range), undefs mark it dead.
struct StepAccess {
  std::vector<const TensorLayout *> reads;
  std::vector<const TensorLayout *> writes;
  std::vector<const TensorLayout *> undefs;
  std::size_t tempBytes = 0; // scratch the step needs while it runs, spread over the IPUs it writes
};

class StepNode : public ProgramNode {
public:
  explicit StepNode(std::string name) : name_(std::move(name)) {}
  const std::string &name() const { return name_; }
  virtual void access(StepAccess &a) const = 0;
  virtual StepWork work() const = 0;
  // Steps that see every replica at once (collectives, stream copies) return true and implement runAll.
  virtual bool acrossReplicas() const { return false; }
  virtual void run(ReplicaContext &replica) const;
  virtual void runAll(const std::vector<ReplicaContext *> &replicas) const;
  // The replica groups a collective step exchanges within (members in replica order); none for other steps.
  virtual std::vector<std::vector<unsigned>> replicaGroups() const { return {}; }

private:
  std::string name_;
};

} // namespace poplar_emulator
