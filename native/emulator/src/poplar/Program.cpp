#include <cstring>
#include <vector>

#include <poplar/Program.hpp>
#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/EngineImpl.hpp"
#include "core/GraphState.hpp"
#include "core/HostValues.hpp"
#include "core/Kernel.hpp"
#include "core/ProgramNode.hpp"
#include "core/ReplicaContext.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {

void StepNode::run(ReplicaContext &) const {}
void StepNode::runAll(const std::vector<ReplicaContext *> &) const {}

namespace {

const TensorImpl &valid(const poplar::Tensor &t, const std::string &what) {
  const auto &impl = Access::impl(t);
  if (!impl) throw poplar::poplar_error(what + ": the tensor is not valid (default-constructed)");
  return *impl;
}

std::string describe(const TensorLayout &t) { return std::string(typeInfo(t.type).name) + shapeString(t.shape); }

double bytesOf(const TensorLayout &t) { return static_cast<double>(t.numElements() * typeInfo(t.type).size); }

// The bytes of a copy whose source and destination elements sit on different IPUs of one replica: those go over
// the IPU links (a copy between pipeline stages).
double crossIpuBytes(const TensorImpl &src, const TensorImpl &dst) {
  const GraphState &g = *src.graph;
  if (g.replicaTarget.getNumIPUs() < 2) return 0;
  const long perIpu = static_cast<long>(g.replicaTarget.getTilesPerIPU());
  auto ipuOf = [&](std::uint32_t var, std::size_t index) {
    const long tile = g.vars[var].mapping.tileOf(index);
    return tile < 0 ? -1L : tile / perIpu;
  };
  std::vector<long> from;
  from.reserve(src.numElements());
  forEachElement(src.segments, [&](std::uint32_t var, std::size_t index) { from.push_back(ipuOf(var, index)); });
  std::size_t k = 0, crossing = 0;
  forEachElement(dst.segments, [&](std::uint32_t var, std::size_t index) {
    const long to = ipuOf(var, index);
    if (to >= 0 && from[k] >= 0 && to != from[k]) ++crossing;
    ++k;
  });
  return static_cast<double>(crossing * typeInfo(src.type).size);
}

class CopyStep : public StepNode {
public:
  CopyStep(poplar::Tensor src, poplar::Tensor dst, const std::string &name) : StepNode(name), src_(src), dst_(dst) {
    const TensorImpl &s = valid(src_, "poplar::program::Copy '" + name + "'");
    const TensorImpl &d = valid(dst_, "poplar::program::Copy '" + name + "'");
    if (s.type != d.type || s.numElements() != d.numElements())
      throw poplar::poplar_error("poplar::program::Copy '" + name + "': source " + describe(s) + " and destination " +
                                 describe(d) + " differ in type or number of elements");
  }
  void access(StepAccess &a) const override {
    a.reads.push_back(Access::impl(src_).get());
    a.writes.push_back(Access::impl(dst_).get());
  }
  StepWork work() const override {
    StepWork w;
    w.ipuLinkBytes = crossIpuBytes(*Access::impl(src_), *Access::impl(dst_));
    w.exchangeBytes = bytesOf(*Access::impl(src_)) - w.ipuLinkBytes;
    return w;
  }
  void run(ReplicaContext &r) const override {
    const TensorLayout &s = *Access::impl(src_);
    std::vector<unsigned char> buf(s.numElements() * typeInfo(s.type).size);
    r.readRaw(s, buf.data());
    r.writeRaw(*Access::impl(dst_), buf.data());
  }

private:
  poplar::Tensor src_, dst_;
};

class StreamCopyStep : public StepNode {
public:
  StreamCopyStep(std::shared_ptr<const StreamInfo> stream, poplar::Tensor t, const std::string &name)
      : StepNode(name), stream_(std::move(stream)), t_(t) {
    if (!stream_) throw poplar::poplar_error("poplar::program::Copy '" + name + "': the stream is not valid");
    const TensorImpl &ti = valid(t_, "poplar::program::Copy '" + name + "'");
    if (ti.type != stream_->type || ti.numElements() != stream_->numElements)
      throw poplar::poplar_error("poplar::program::Copy '" + name + "': stream '" + stream_->handle + "' carries " +
                                 std::to_string(stream_->numElements) + " " + typeInfo(stream_->type).name +
                                 " elements but the tensor is " + describe(ti));
  }
  void access(StepAccess &a) const override {
    (stream_->toDevice ? a.writes : a.reads).push_back(Access::impl(t_).get());
  }
  StepWork work() const override {
    StepWork w;
    w.hostBytes = bytesOf(*Access::impl(t_));
    w.externalSync = true;
    return w;
  }
  bool acrossReplicas() const override { return true; }
  void runAll(const std::vector<ReplicaContext *> &replicas) const override {
    if (replicas.empty()) return;
    EngineImpl &engine = replicas.front()->engine();
    const TensorImpl &t = *Access::impl(t_);
    std::size_t block = stream_->numElements * typeInfo(stream_->type).size;
    bool perReplica = !stream_->toDevice || stream_->mode == poplar::ReplicatedStreamMode::REPLICATE;
    bool buffered = false;
    std::vector<unsigned char> scratch;
    for (ReplicaContext *r : replicas) {
      if (poplar::StreamCallback *callback = engine.streamCallback(*stream_, r->replica())) {
        // The callback sees this replica's block only for the length of the call.
        scratch.assign(block, 0);
        if (stream_->toDevice) {
          if (callback->prefetch(scratch.data()) != poplar::StreamCallback::Result::Success)
            callback->fetch(scratch.data());
          r->writeRaw(t, scratch.data());
        } else {
          r->readRaw(t, scratch.data());
          callback->fetch(scratch.data());
        }
        callback->complete();
        continue;
      }
      // The host buffer holds the blocks of the replicas run here.
      unsigned char *p = engine.streamEntry(*stream_) +
                         (perReplica ? (r->replica() - engine.firstLocalReplica()) * block : 0);
      if (stream_->toDevice) r->writeRaw(t, p);
      else r->readRaw(t, p);
      buffered = true;
    }
    if (buffered) engine.advanceStream(*stream_);
  }

private:
  std::shared_ptr<const StreamInfo> stream_;
  poplar::Tensor t_;
};

class RemoteCopyStep : public StepNode {
public:
  RemoteCopyStep(std::shared_ptr<const RemoteBufferInfo> buffer, poplar::Tensor t, poplar::Tensor offset, bool toRemote,
                 const std::string &name)
      : StepNode(name), buffer_(std::move(buffer)), t_(t), offset_(offset), toRemote_(toRemote) {
    std::string what = "poplar::program::Copy '" + name + "'";
    if (!buffer_) throw poplar::poplar_error(what + ": the remote buffer is not valid");
    const TensorImpl &ti = valid(t_, what);
    std::size_t rows = 1;
    if (offset_.valid()) {
      const TensorImpl &oi = *Access::impl(offset_);
      TypeKind k = typeInfo(oi.type).kind;
      if ((k != TypeKind::Unsigned && k != TypeKind::Signed) || oi.shape.size() > 1)
        throw poplar::poplar_error(what + ": the offset must be a scalar or rank-1 integer tensor, not " + describe(oi));
      rows = oi.numElements();
    }
    if (ti.type != buffer_->type || ti.numElements() != rows * buffer_->numElements)
      throw poplar::poplar_error(what + ": remote buffer '" + buffer_->handle + "' rows hold " +
                                 std::to_string(buffer_->numElements) + " " + typeInfo(buffer_->type).name + " elements; " +
                                 std::to_string(rows) + " row(s) do not match the tensor " + describe(ti));
  }
  void access(StepAccess &a) const override {
    (toRemote_ ? a.reads : a.writes).push_back(Access::impl(t_).get());
    if (offset_.valid()) a.reads.push_back(Access::impl(offset_).get());
  }
  StepWork work() const override {
    StepWork w;
    w.hostBytes = bytesOf(*Access::impl(t_));
    w.remoteBytes = w.hostBytes;
    return w;
  }
  void run(ReplicaContext &r) const override {
    const TensorLayout &t = *Access::impl(t_);
    std::size_t rowBytes = buffer_->numElements * typeInfo(buffer_->type).size;
    std::vector<std::size_t> rows{0};
    if (offset_.valid()) {
      const TensorLayout &o = *Access::impl(offset_);
      std::vector<unsigned char> raw(o.numElements() * typeInfo(o.type).size);
      r.readRaw(o, raw.data());
      rows.clear();
      for (std::size_t i = 0; i < o.numElements(); ++i) {
        double v = loadAsDouble(&raw[i * typeInfo(o.type).size], o.type);
        if (v < 0 || v >= static_cast<double>(buffer_->repeats))
          throw poplar::poplar_error("poplar::program::Copy '" + name() + "': offset " + std::to_string(static_cast<long long>(v)) +
                                     " is outside remote buffer '" + buffer_->handle + "' of " +
                                     std::to_string(buffer_->repeats) + " rows");
        rows.push_back(static_cast<std::size_t>(v));
      }
    }
    std::vector<unsigned char> &store = r.engine().remoteStorage(*buffer_, r.replica());
    std::vector<unsigned char> buf(rows.size() * rowBytes);
    if (toRemote_) {
      r.readRaw(t, buf.data());
      for (std::size_t i = 0; i < rows.size(); ++i) std::memcpy(&store[rows[i] * rowBytes], &buf[i * rowBytes], rowBytes);
    } else {
      for (std::size_t i = 0; i < rows.size(); ++i) std::memcpy(&buf[i * rowBytes], &store[rows[i] * rowBytes], rowBytes);
      r.writeRaw(t, buf.data());
    }
  }

private:
  std::shared_ptr<const RemoteBufferInfo> buffer_;
  poplar::Tensor t_, offset_;
  bool toRemote_;
};

class CrossReplicaCopyStep : public StepNode {
public:
  CrossReplicaCopyStep(poplar::Tensor src, poplar::Tensor dst, std::map<unsigned, unsigned> map, const std::string &name)
      : StepNode(name), src_(src), dst_(dst), map_(std::move(map)) {
    const TensorImpl &s = valid(src_, "poplar::program::CrossReplicaCopy '" + name + "'");
    const TensorImpl &d = valid(dst_, "poplar::program::CrossReplicaCopy '" + name + "'");
    if (s.type != d.type || s.numElements() != d.numElements())
      throw poplar::poplar_error("poplar::program::CrossReplicaCopy '" + name + "': source " + describe(s) +
                                 " and destination " + describe(d) + " differ");
    unsigned rf = s.graph->replicationFactor;
    for (auto [from, to] : map_)
      if (from >= rf || to >= rf)
        throw poplar::poplar_error("poplar::program::CrossReplicaCopy '" + name + "': replica " + std::to_string(std::max(from, to)) +
                                   " does not exist (replication factor " + std::to_string(rf) + ")");
  }
  void access(StepAccess &a) const override {
    a.reads.push_back(Access::impl(src_).get());
    a.writes.push_back(Access::impl(dst_).get());
  }
  StepWork work() const override {
    StepWork w;
    w.ipuLinkBytes = bytesOf(*Access::impl(src_));
    w.externalSync = true;
    return w;
  }
  bool acrossReplicas() const override { return true; }
  void runAll(const std::vector<ReplicaContext *> &replicas) const override {
    const TensorLayout &s = *Access::impl(src_);
    std::size_t bytes = s.numElements() * typeInfo(s.type).size;
    std::map<unsigned, ReplicaContext *> byIndex;
    for (ReplicaContext *r : replicas) byIndex[r->replica()] = r;
    std::map<unsigned, std::vector<unsigned char>> sent;
    for (auto [from, to] : map_) {
      if (!replicas.empty() && replicas.front()->engine().instances() &&
          (!replicas.front()->engine().isLocal(from) || !replicas.front()->engine().isLocal(to)))
        throw poplar::poplar_error("poplar::program::CrossReplicaCopy '" + name() + "': replicas " + std::to_string(from) +
                                   " and " + std::to_string(to) +
                                   " run on different instances; a copy across instances is not emulated (use a gcl collective)");
      if (!byIndex.count(from) || !byIndex.count(to))
        throw poplar::poplar_error("poplar::program::CrossReplicaCopy '" + name() + "': replicas " + std::to_string(from) +
                                   " and " + std::to_string(to) + " did not both reach the copy");
      sent[from].resize(bytes);
      byIndex[from]->readRaw(s, sent[from].data());
    }
    for (auto [from, to] : map_) byIndex[to]->writeRaw(*Access::impl(dst_), sent[from].data());
  }

private:
  poplar::Tensor src_, dst_;
  std::map<unsigned, unsigned> map_;
};

class WriteUndefStep : public StepNode {
public:
  WriteUndefStep(poplar::Tensor t, const std::string &name) : StepNode(name), t_(t) {
    valid(t_, "poplar::program::WriteUndef '" + name + "'");
  }
  void access(StepAccess &a) const override { a.undefs.push_back(Access::impl(t_).get()); }
  StepWork work() const override {
    StepWork w;
    w.syncs = 0;
    return w;
  }

private:
  poplar::Tensor t_;
};

class SyncStep : public StepNode {
public:
  SyncStep(poplar::SyncType type, const std::string &name) : StepNode(name), type_(type) {}
  void access(StepAccess &) const override {}
  StepWork work() const override {
    StepWork w;
    w.externalSync = type_ != poplar::SyncType::INTERNAL;
    return w;
  }

private:
  poplar::SyncType type_;
};

class AbortStep : public StepNode {
public:
  AbortStep(poplar::Tensor predicate, const std::string &name) : StepNode(name), predicate_(predicate) {
    if (predicate_.valid() && predicate_.numElements() != 1)
      throw poplar::poplar_error("poplar::program::AbortOnCondition '" + name + "': the predicate must have one element");
  }
  void access(StepAccess &a) const override {
    if (predicate_.valid()) a.reads.push_back(Access::impl(predicate_).get());
  }
  StepWork work() const override { return StepWork(); }
  void run(ReplicaContext &r) const override {
    if (predicate_.valid()) {
      const TensorLayout &p = *Access::impl(predicate_);
      std::vector<unsigned char> raw(typeInfo(p.type).size);
      r.readRaw(p, raw.data());
      if (loadAsDouble(raw.data(), p.type) == 0) return;
    }
    throw poplar::application_runtime_error("program aborted by '" + name() + "' on replica " + std::to_string(r.replica()));
  }

private:
  poplar::Tensor predicate_;
};

std::shared_ptr<SequenceNode> sequenceOf(const std::shared_ptr<ProgramNode> &node) {
  return std::dynamic_pointer_cast<SequenceNode>(node);
}

NodePtr frozen(const poplar::program::Program &p) {
  const auto &node = Access::node(p);
  return node ? NodePtr(node->snapshot()) : NodePtr(std::make_shared<SequenceNode>());
}

} // namespace

void appendStep(poplar::program::Sequence &prog, std::shared_ptr<StepNode> step) {
  sequenceOf(Access::node(prog))->children.push_back(std::move(step));
}

} // namespace poplar_emulator

namespace poplar {
namespace program {

using namespace poplar_emulator;

Program::Program() = default;
Program::Program(std::shared_ptr<ProgramNode> node) : node_(std::move(node)) {}
Program::Program(const Program &other) : node_(other.node_ ? other.node_->snapshot() : nullptr) {}
Program::Program(Program &&other) noexcept = default;
Program &Program::operator=(const Program &other) {
  if (this != &other) node_ = other.node_ ? other.node_->snapshot() : nullptr;
  return *this;
}
Program &Program::operator=(Program &&other) noexcept = default;
Program::~Program() = default;
bool Program::isEmpty() const {
  auto seq = std::dynamic_pointer_cast<SequenceNode>(node_);
  return !node_ || (seq && seq->children.empty());
}

Sequence::Sequence(const DebugContext &) : Program(std::make_shared<SequenceNode>()) {}
Sequence::Sequence(std::initializer_list<Program> programs, const DebugContext &) : Program(std::make_shared<SequenceNode>()) {
  for (const Program &p : programs) add(p);
}
void Sequence::add(const Program &p) { sequenceOf(node_)->children.push_back(frozen(p)); }

Repeat::Repeat(unsigned count, const Program &prog, const DebugContext &) {
  auto n = std::make_shared<RepeatNode>();
  n->count = count;
  n->body = frozen(prog);
  node_ = n;
}

namespace {
std::shared_ptr<ProgramNode> repeatWhile(const Program &cond, Tensor predicate, const Program &body, bool whileTrue,
                                         const DebugContext &dc) {
  const TensorImpl &p = valid(predicate, "poplar::program::RepeatWhile '" + dc.getPathName() + "'");
  if (p.numElements() != 1)
    throw poplar_error("poplar::program::RepeatWhile '" + dc.getPathName() + "': the predicate must have one element, not " +
                       shapeString(p.shape));
  auto n = std::make_shared<RepeatWhileNode>();
  n->cond = frozen(cond);
  n->predicate = predicate;
  n->body = frozen(body);
  n->whileTrue = whileTrue;
  return n;
}
} // namespace

RepeatWhileFalse::RepeatWhileFalse(const Program &cond, Tensor predicate, const Program &body, const DebugContext &dc) {
  node_ = repeatWhile(cond, predicate, body, false, dc);
}
RepeatWhileTrue::RepeatWhileTrue(const Program &cond, Tensor predicate, const Program &body, const DebugContext &dc) {
  node_ = repeatWhile(cond, predicate, body, true, dc);
}

If::If(Tensor predicate, const Program &trueBody, const Program &falseBody, const DebugContext &dc) {
  const TensorImpl &p = valid(predicate, "poplar::program::If '" + dc.getPathName() + "'");
  if (p.numElements() != 1)
    throw poplar_error("poplar::program::If '" + dc.getPathName() + "': the predicate must have one element, not " +
                       shapeString(p.shape));
  auto n = std::make_shared<IfNode>();
  n->predicate = predicate;
  n->thenBody = frozen(trueBody);
  n->elseBody = frozen(falseBody);
  node_ = n;
}

Copy::Copy(Tensor src, Tensor dst, bool, const DebugContext &dc) {
  node_ = std::make_shared<CopyStep>(src, dst, dc.getPathName());
}
Copy::Copy(const DataStream &stream, Tensor dst, bool, const DebugContext &dc) {
  auto info = Access::info(stream);
  if (info && !info->toDevice)
    throw poplar_error("poplar::program::Copy '" + dc.getPathName() + "': stream '" + info->handle + "' goes to the host, not to the device");
  node_ = std::make_shared<StreamCopyStep>(info, dst, dc.getPathName());
}
Copy::Copy(Tensor src, const DataStream &stream, bool, const DebugContext &dc) {
  auto info = Access::info(stream);
  if (info && info->toDevice)
    throw poplar_error("poplar::program::Copy '" + dc.getPathName() + "': stream '" + info->handle + "' comes from the host, not to it");
  node_ = std::make_shared<StreamCopyStep>(info, src, dc.getPathName());
}
Copy::Copy(const RemoteBuffer &buffer, Tensor dst, const DebugContext &dc) {
  node_ = std::make_shared<RemoteCopyStep>(Access::info(buffer), dst, Tensor(), false, dc.getPathName());
}
Copy::Copy(const RemoteBuffer &buffer, Tensor dst, Tensor offset, const DebugContext &dc) {
  node_ = std::make_shared<RemoteCopyStep>(Access::info(buffer), dst, offset, false, dc.getPathName());
}
Copy::Copy(Tensor src, const RemoteBuffer &buffer, const DebugContext &dc) {
  node_ = std::make_shared<RemoteCopyStep>(Access::info(buffer), src, Tensor(), true, dc.getPathName());
}
Copy::Copy(Tensor src, const RemoteBuffer &buffer, Tensor offset, const DebugContext &dc) {
  node_ = std::make_shared<RemoteCopyStep>(Access::info(buffer), src, offset, true, dc.getPathName());
}
CrossReplicaCopy::CrossReplicaCopy(Tensor src, Tensor dst, std::map<unsigned, unsigned> replicaMap, const DebugContext &dc) {
  node_ = std::make_shared<CrossReplicaCopyStep>(src, dst, std::move(replicaMap), dc.getPathName());
}
WriteUndef::WriteUndef(Tensor t, const DebugContext &dc) { node_ = std::make_shared<WriteUndefStep>(t, dc.getPathName()); }
Sync::Sync(SyncType type, const DebugContext &dc) { node_ = std::make_shared<SyncStep>(type, dc.getPathName()); }
Call::Call(Function f, const DebugContext &) {
  auto n = std::make_shared<CallNode>();
  n->body = Access::body(f);
  if (!n->body) throw poplar_error("poplar::program::Call: the function is empty (default-constructed)");
  node_ = n;
}

Abort::Abort(const DebugContext &dc) { node_ = std::make_shared<AbortStep>(Tensor(), dc.getPathName()); }
AbortOnCondition::AbortOnCondition(Tensor predicate, const DebugContext &dc) {
  if (!predicate.valid()) throw poplar_error("poplar::program::AbortOnCondition '" + dc.getPathName() + "': the predicate is not valid");
  node_ = std::make_shared<AbortStep>(predicate, dc.getPathName());
}

} // namespace program
} // namespace poplar
