#include <algorithm>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <thread>

#include <poplar/Engine.hpp>
#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/CycleModel.hpp"
#include "core/DeviceState.hpp"
#include "core/EngineImpl.hpp"
#include "core/HostValues.hpp"
#include "core/Memory.hpp"
#include "core/TypeInfo.hpp"
#include "core/Walk.hpp"

namespace poplar_emulator {
namespace {

std::uint64_t mix(std::uint64_t x) {
  // splitmix64: distinct, well-spread seeds from small integers.
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::size_t bytesOfLayout(const TensorLayout &t) { return t.numElements() * typeInfo(t.type).size; }

// The engine options that say which replicas of the global graph this host instance runs, as popart
// sets them for distributed replicated graphs (graphcore/popart, willow/src/popx/devicex.cpp:
// "target.firstRuntimeReplica" = globalReplicaOffset, "target.numberRuntimeReplica" = local replicas).
unsigned replicaOption(const poplar::OptionFlags &options, const std::string &key, unsigned fallback) {
  auto value = Access::option(options, key);
  if (!value) return fallback;
  try {
    std::size_t used = 0;
    unsigned long v = std::stoul(*value, &used);
    if (used == value->size() && v <= 0xffffffffu) return static_cast<unsigned>(v);
  } catch (const std::exception &) {
  }
  throw poplar::poplar_error("poplar::Engine: option '" + key + "' is '" + *value + "', not a replica count or index");
}

// FNV-1a over what every instance's engine must agree on: variables, programs' steps, streams.
struct Fingerprint {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(const std::string &s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    add(static_cast<std::uint64_t>(s.size()));
  }
  void add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xffu)) * 0x100000001b3ull;
  }
};

} // namespace

EngineImpl::EngineImpl(const poplar::Graph &graph, const std::vector<poplar::program::Program> &programs,
                       const poplar::OptionFlags &options) {
  const GraphImpl &g = Access::impl(graph);
  state_ = std::make_shared<GraphState>(*g.state);
  for (const auto &p : programs) {
    const auto &node = Access::node(p);
    programs_.push_back(node ? NodePtr(node->snapshot()) : NodePtr(std::make_shared<SequenceNode>()));
  }
  for (const VarInfo &v : state_->vars) {
    std::size_t mapped = v.mapping.mappedElements();
    if (mapped != v.numElements)
      throw poplar::poplar_error("poplar::Engine: variable '" + v.name + "' " + typeInfo(v.type).name + shapeString(v.shape) +
                                 " has " + std::to_string(v.numElements - mapped) + " of " + std::to_string(v.numElements) +
                                 " elements without a tile mapping: map it with Graph::setTileMapping or "
                                 "poputil::mapTensorLinearly");
  }
  std::set<const ProgramNode *> seen;
  std::vector<const StepNode *> steps;
  for (const auto &p : programs_)
    forEachStep(*p, [&](const StepNode &st) {
      StepAccess a;
      st.access(a);
      for (auto list : {&a.reads, &a.writes, &a.undefs})
        for (const TensorLayout *t : *list)
          if (static_cast<const TensorImpl *>(t)->graph != g.state)
            throw poplar::poplar_error("poplar::Engine: step '" + st.name() + "' uses a tensor of another graph");
      steps.push_back(&st);
      // Below this much output a thread costs more than it saves.
      std::size_t elements = 0;
      for (const TensorLayout *t : a.writes) elements += t->numElements();
      if (elements >= (std::size_t{1} << 14)) threaded_.insert(&st);
    }, seen);
  memory_ = analyseMemory(*state_, programs_, &lifetimes_);
  unsigned rf = state_->replicationFactor;
  firstLocal_ = replicaOption(options, "target.firstRuntimeReplica", 0);
  numLocal_ = replicaOption(options, "target.numberRuntimeReplica", rf - std::min(firstLocal_, rf));
  if (numLocal_ == 0 || firstLocal_ >= rf || numLocal_ > rf - firstLocal_)
    throw poplar::poplar_error("poplar::Engine: target.firstRuntimeReplica=" + std::to_string(firstLocal_) +
                               " and target.numberRuntimeReplica=" + std::to_string(numLocal_) +
                               " do not name a non-empty range of the graph's " + std::to_string(rf) + " replicas");
  if (numLocal_ != rf) {
    Fingerprint f;
    f.add(programs_.size());
    for (const VarInfo &v : state_->vars) {
      f.add(v.name);
      f.add(typeInfo(v.type).name);
      f.add(v.numElements);
    }
    std::set<std::vector<unsigned>> groups;
    for (const StepNode *st : steps) {
      f.add(st->name());
      for (auto &group : st->replicaGroups()) groups.insert(group);
    }
    for (const auto &kv : state_->streams) f.add(kv.first);
    instances_ = Instances::connect(rf, firstLocal_, numLocal_, f.h, groups);
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    stepCosts_[steps[i]] = {stepCycles(*steps[i], *state_), steps[i]->work().ipuLinkBytes, steps[i]->work().remoteBytes,
                            stepIpus(*steps[i], *state_)};
    for (unsigned r = 0; r < rf; ++r)
      kernelRandom_.emplace(std::make_pair(steps[i], r),
                            std::mt19937(static_cast<std::mt19937::result_type>(mix((i << 16) ^ r))));
  }
  replicas_.resize(rf);
  for (unsigned r = firstLocal_; r < firstLocal_ + numLocal_; ++r)
    replicas_[r] = std::make_unique<ReplicaContext>(*this, r, mix(0x5eed0000u + r));
}

// Storage comes with the engine on a device (Engine::load; or the first host access of an engine never loaded), as
// device memory does: the always-live variables with their initial values, zeroed otherwise, and the remote buffers.
void EngineImpl::allocateStorage() {
  if (allocated_) return;
  for (unsigned r = firstLocal_; r < firstLocal_ + numLocal_; ++r) {
    auto &storage = replicas_[r]->storage();
    storage.clear();
    for (std::size_t i = 0; i < state_->vars.size(); ++i) {
      const VarInfo &v = state_->vars[i];
      std::size_t bytes = v.numElements * typeInfo(v.type).size;
      if (!lifetimes_.alwaysLive[i] && !v.replicationIndex && v.initial.empty()) {
        storage.emplace_back(); // acquired by the first step of each live range (runStep)
      } else if (v.replicationIndex) {
        std::vector<unsigned char> b(bytes);
        storeFromDouble(b.data(), v.type, r);
        storage.push_back(std::move(b));
      } else if (!v.initial.empty()) {
        storage.push_back(v.initial);
      } else {
        storage.emplace_back(bytes, 0);
      }
      storage_.current += storage.back().size();
    }
  }
  storage_.peak = std::max(storage_.peak, storage_.current);
  for (const auto &kv : state_->remoteBuffers) {
    const RemoteBufferInfo &b = *kv.second;
    auto &rows = remote_[b.handle];
    rows.resize(state_->replicationFactor);
    for (unsigned r = firstLocal_; r < firstLocal_ + numLocal_; ++r)
      rows[r].assign(b.numElements * b.repeats * typeInfo(b.type).size, 0);
  }
  allocated_ = true;
}

// Another engine was loaded onto this one's device: as on an IPU, what this one held there is gone.
void EngineImpl::unload() {
  for (unsigned r = firstLocal_; r < firstLocal_ + numLocal_; ++r)
    replicas_[r]->dropStorage();
  remote_.clear();
  storage_.current = 0;
  allocated_ = false;
  loaded_ = false;
  displaced_ = true;
  device_ = nullptr;
}

void EngineImpl::throwIfDisplaced(const char *op) const {
  if (displaced_ && !loaded_)
    throw poplar::poplar_error(std::string("poplar::Engine::") + op +
                               ": another engine has been loaded onto this engine's device since it was loaded, so "
                               "its tensors are gone: load it again (Engine::load) and write them");
}

void EngineImpl::checkHeld(const char *op) {
  throwIfDisplaced(op);
  allocateStorage();
}

EngineImpl::~EngineImpl() {
  if (device_ && device_->loadedEngine == this) device_->loadedEngine = nullptr;
}

void EngineImpl::deviceDestroyed() {
  device_ = nullptr;
}

DeviceState::~DeviceState() {
  if (loadedEngine) loadedEngine->deviceDestroyed();
}

void EngineImpl::load(const poplar::Device &device) {
  const DeviceState &d = Access::state(device);
  unsigned needed = state_->replicaTarget.getNumIPUs() * state_->replicationFactor;
  if (d.target.getNumIPUs() != needed)
    throw poplar::poplar_error("poplar::Engine::load: the graph needs " + std::to_string(needed) + " IPUs but the device has " +
                               std::to_string(d.target.getNumIPUs()));
  // As in the SDK, hardware devices must be attached; IPUModel and CPU devices need not be.
  if (d.target.getTargetType() == poplar::TargetType::IPU && !d.attached)
    throw poplar::poplar_error("poplar::Engine::load: the IPU device is not attached (call Device::attach first)");
  // A device runs one engine: loading this one unloads the one there before.
  if (d.loadedEngine != nullptr && d.loadedEngine != this) d.loadedEngine->unload();
  d.loadedEngine = this;
  device_ = &d;
  loaded_ = true;
  allocateStorage();
}

void EngineImpl::run(unsigned program) {
  throwIfDisplaced("run");
  if (!loaded_) throw poplar::poplar_error("poplar::Engine::run: load the engine onto a device first (Engine::load)");
  if (program >= programs_.size())
    throw poplar::poplar_error("poplar::Engine::run: program " + std::to_string(program) + " does not exist (the engine has " +
                               std::to_string(programs_.size()) + ")");
  lastRun_ = CycleReport();
  ipuClock_.assign(state_->replicaTarget.getNumIPUs(), 0.0);
  std::vector<unsigned> local(numLocal_);
  for (unsigned i = 0; i < numLocal_; ++i) local[i] = firstLocal_ + i;
  execute(*programs_[program], local);
}

bool EngineImpl::predicate(const poplar::Tensor &t, unsigned replica) {
  const TensorLayout &l = *Access::impl(t);
  std::vector<unsigned char> raw(typeInfo(l.type).size);
  replicas_[replica]->readRaw(l, raw.data());
  return loadAsDouble(raw.data(), l.type) != 0;
}

void EngineImpl::execute(const ProgramNode &node, const std::vector<unsigned> &active) {
  if (active.empty()) return;
  if (auto s = dynamic_cast<const SequenceNode *>(&node)) {
    for (const auto &c : s->children) execute(*c, active);
  } else if (auto r = dynamic_cast<const RepeatNode *>(&node)) {
    for (unsigned i = 0; i < r->count; ++i) execute(*r->body, active);
  } else if (auto w = dynamic_cast<const RepeatWhileNode *>(&node)) {
    std::vector<unsigned> running = active;
    for (;;) {
      execute(*w->cond, running);
      std::vector<unsigned> next;
      for (unsigned rep : running)
        if (predicate(w->predicate, rep) == w->whileTrue) next.push_back(rep);
      if (next.empty()) break;
      running = next;
      execute(*w->body, running);
    }
  } else if (auto i = dynamic_cast<const IfNode *>(&node)) {
    std::vector<unsigned> yes, no;
    for (unsigned rep : active) (predicate(i->predicate, rep) ? yes : no).push_back(rep);
    execute(*i->thenBody, yes);
    execute(*i->elseBody, no);
  } else if (auto c = dynamic_cast<const CallNode *>(&node)) {
    execute(*c->body, active);
  } else if (auto st = dynamic_cast<const StepNode *>(&node)) {
    runStep(*st, active);
  }
}

void EngineImpl::runStep(const StepNode &step, const std::vector<unsigned> &active) {
  const StepCost &cost = stepCosts_.at(&step);
  const StepCycles &c = cost.cycles;
  lastRun_.cycles.compute += c.compute;
  lastRun_.cycles.exchange += c.exchange;
  lastRun_.cycles.ipuLink += c.ipuLink;
  lastRun_.cycles.host += c.host;
  lastRun_.cycles.sync += c.sync;
  ++lastRun_.stepsRun;
  lastRun_.ipuLinkBytes += cost.ipuLinkBytes;
  lastRun_.remoteBytes += cost.remoteBytes;
  if (cost.ipuLinkBytes > 0) ++lastRun_.linkSteps;
  double start = 0;
  for (unsigned ipu : cost.ipus) start = std::max(start, ipuClock_[ipu]);
  for (unsigned ipu : cost.ipus) ipuClock_[ipu] = start + c.total();
  lastRun_.elapsed = std::max(lastRun_.elapsed, start + c.total());
  acquireStorage(step, active);
  runOnReplicas(step, active);
  // Freed only after a step that succeeded: after a failure the engine stops and nothing reads it again.
  if (auto dead = lifetimes_.deadAfter.find(&step); dead != lifetimes_.deadAfter.end())
    for (unsigned r : active)
      for (std::size_t v : dead->second) storage_.current -= replicas_[r]->release(v);
}

void EngineImpl::acquireStorage(const StepNode &step, const std::vector<unsigned> &active) {
  auto touched = lifetimes_.touched.find(&step);
  if (touched == lifetimes_.touched.end()) return;
  for (unsigned r : active)
    for (std::size_t v : touched->second)
      storage_.current += replicas_[r]->acquire(v, state_->vars[v].numElements * typeInfo(state_->vars[v].type).size);
  storage_.peak = std::max(storage_.peak, storage_.current);
}

void EngineImpl::runOnReplicas(const StepNode &step, const std::vector<unsigned> &active) {
  if (step.acrossReplicas()) {
    std::vector<ReplicaContext *> ctx;
    for (unsigned r : active) ctx.push_back(replicas_[r].get());
    step.runAll(ctx);
    return;
  }
  if (active.size() == 1 || !threaded_.count(&step) || std::thread::hardware_concurrency() < 2) {
    for (unsigned r : active) step.run(*replicas_[r]);
    return;
  }
  // Replicas are independent within a step: run them on threads, first error wins.
  std::vector<std::exception_ptr> errors(active.size());
  std::vector<std::thread> threads;
  for (std::size_t k = 1; k < active.size(); ++k)
    threads.emplace_back([&, k] {
      try {
        step.run(*replicas_[active[k]]);
      } catch (...) {
        errors[k] = std::current_exception();
      }
    });
  try {
    step.run(*replicas_[active[0]]);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto &t : threads) t.join();
  for (auto &e : errors)
    if (e) std::rethrow_exception(e);
}

namespace {
const HostHandle &handleOf(const GraphState &s, const std::string &h, bool write) {
  auto it = s.hostHandles.find(h);
  if (it == s.hostHandles.end() || !(write ? it->second.write : it->second.read))
    throw poplar::poplar_error(std::string("poplar::Engine::") + (write ? "writeTensor" : "readTensor") + ": no tensor has host " +
                               (write ? "write" : "read") + " handle '" + h + "' (Graph::" +
                               (write ? "createHostWrite" : "createHostRead") + ")");
  return it->second;
}
std::size_t span(const void *b, const void *e) {
  return static_cast<std::size_t>(static_cast<const unsigned char *>(e) - static_cast<const unsigned char *>(b));
}
} // namespace

void EngineImpl::readTensor(const std::string &h, void *buf, void *bufEnd) {
  checkHeld("readTensor");
  const HostHandle &hh = handleOf(*state_, h, false);
  std::size_t bytes = bytesOfLayout(hh.layout), have = span(buf, bufEnd);
  unsigned n = numLocal_;
  if (have == bytes) {
    replicas_[firstLocal_]->readRaw(hh.layout, static_cast<unsigned char *>(buf));
  } else if (have == bytes * n) {
    for (unsigned i = 0; i < n; ++i)
      replicas_[firstLocal_ + i]->readRaw(hh.layout, static_cast<unsigned char *>(buf) + i * bytes);
  } else {
    throw poplar::poplar_error("poplar::Engine::readTensor '" + h + "': the buffer has " + std::to_string(have) +
                               " bytes; the tensor needs " + std::to_string(bytes) + " (or " + std::to_string(bytes * n) +
                               " for all " + std::to_string(n) + " replicas run here)");
  }
}

void EngineImpl::writeTensor(const std::string &h, const void *buf, const void *bufEnd) {
  checkHeld("writeTensor");
  const HostHandle &hh = handleOf(*state_, h, true);
  std::size_t bytes = bytesOfLayout(hh.layout), have = span(buf, bufEnd);
  unsigned n = numLocal_;
  if (have != bytes && have != bytes * n)
    throw poplar::poplar_error("poplar::Engine::writeTensor '" + h + "': the buffer has " + std::to_string(have) +
                               " bytes; the tensor needs " + std::to_string(bytes) + " (or " + std::to_string(bytes * n) +
                               " for all " + std::to_string(n) + " replicas run here)");
  for (unsigned i = 0; i < n; ++i)
    replicas_[firstLocal_ + i]->writeRaw(hh.layout, static_cast<const unsigned char *>(buf) + (have == bytes ? 0 : i * bytes));
}

std::size_t EngineImpl::streamBlockBytes(const StreamInfo &s) const {
  std::size_t block = s.numElements * typeInfo(s.type).size;
  bool perReplica = !s.toDevice || s.mode == poplar::ReplicatedStreamMode::REPLICATE;
  return perReplica ? block * numLocal_ : block;
}

void EngineImpl::connectStream(const std::string &h, void *p, void *pEnd) {
  auto it = state_->streams.find(h);
  if (it == state_->streams.end()) throw poplar::poplar_error("poplar::Engine::connectStream: no stream has handle '" + h + "'");
  std::size_t entry = streamBlockBytes(*it->second), have = span(p, pEnd);
  if (have == 0 || have % entry != 0)
    throw poplar::poplar_error("poplar::Engine::connectStream '" + h + "': the buffer has " + std::to_string(have) +
                               " bytes, not a positive multiple of one entry (" + std::to_string(entry) + " bytes)");
  streams_[h] = ConnectedStream{static_cast<unsigned char *>(p), have / entry, 0};
  callbacks_.erase(h);
}

void EngineImpl::connectStream(const std::string &h, void *p) {
  auto it = state_->streams.find(h);
  if (it == state_->streams.end()) throw poplar::poplar_error("poplar::Engine::connectStream: no stream has handle '" + h + "'");
  connectStream(h, p, static_cast<unsigned char *>(p) + streamBlockBytes(*it->second));
}

void EngineImpl::connectStreamToCallback(const std::string &h, unsigned replica, poplar::StreamCallbackHandle f) {
  if (state_->streams.find(h) == state_->streams.end())
    throw poplar::poplar_error("poplar::Engine::connectStreamToCallback: no stream has handle '" + h + "'");
  if (replica != kAllReplicas && replica >= state_->replicationFactor)
    throw poplar::poplar_error("poplar::Engine::connectStreamToCallback '" + h + "': replica " + std::to_string(replica) +
                               " does not exist (the graph has " + std::to_string(state_->replicationFactor) +
                               " replicas)");
  std::unique_ptr<poplar::StreamCallback> callback = Access::release(std::move(f));
  if (!callback) throw poplar::poplar_error("poplar::Engine::connectStreamToCallback '" + h + "': the callback is null");
  auto &byReplica = callbacks_[h];
  if (replica == kAllReplicas) byReplica.clear();
  byReplica[replica] = std::move(callback);
}

poplar::StreamCallback *EngineImpl::streamCallback(const StreamInfo &s, unsigned replica) {
  auto it = callbacks_.find(s.handle);
  if (it == callbacks_.end()) return nullptr;
  auto own = it->second.find(replica);
  if (own != it->second.end()) return own->second.get();
  auto all = it->second.find(kAllReplicas);
  return all != it->second.end() ? all->second.get() : nullptr;
}

unsigned char *EngineImpl::streamEntry(const StreamInfo &s) {
  auto it = streams_.find(s.handle);
  if (it == streams_.end())
    throw poplar::poplar_error("stream '" + s.handle + "' is not connected: call Engine::connectStream before Engine::run");
  return it->second.begin + it->second.next * streamBlockBytes(s);
}

void EngineImpl::advanceStream(const StreamInfo &s) {
  ConnectedStream &c = streams_.at(s.handle);
  c.next = (c.next + 1) % c.entries;
}

std::vector<unsigned char> &EngineImpl::remoteStorage(const RemoteBufferInfo &b, unsigned replica) {
  return remote_.at(b.handle).at(replica);
}

std::size_t EngineImpl::remoteBufferBytes(const std::string &h) const {
  auto it = state_->remoteBuffers.find(h);
  if (it == state_->remoteBuffers.end()) throw poplar::poplar_error("poplar::Engine: no remote buffer has handle '" + h + "'");
  return it->second->numElements * typeInfo(it->second->type).size;
}

namespace {
void checkRemote(const GraphState &s, const EngineImpl &e, const std::string &h, std::uint64_t repeat, unsigned replica,
                 const char *op) {
  const RemoteBufferInfo &b = *s.remoteBuffers.at(h);
  if (replica < s.replicationFactor && !e.isLocal(replica))
    throw poplar::poplar_error(std::string("poplar::Engine::") + op + " '" + h + "': replica " + std::to_string(replica) +
                               " runs on another instance (this one runs replicas " + std::to_string(e.firstLocalReplica()) +
                               " to " + std::to_string(e.firstLocalReplica() + e.numLocalReplicas() - 1) + ")");
  if (repeat >= b.repeats || replica >= s.replicationFactor)
    throw poplar::poplar_error(std::string("poplar::Engine::") + op + " '" + h + "': row " + std::to_string(repeat) +
                               " of replica " + std::to_string(replica) + " does not exist (" + std::to_string(b.repeats) +
                               " rows, " + std::to_string(s.replicationFactor) + " replicas)");
}
} // namespace

void EngineImpl::copyToRemoteBuffer(const void *buf, const std::string &h, std::uint64_t repeat, unsigned replica) {
  checkHeld("copyToRemoteBuffer");
  std::size_t row = remoteBufferBytes(h);
  checkRemote(*state_, *this, h, repeat, replica, "copyToRemoteBuffer");
  std::memcpy(remote_.at(h)[replica].data() + repeat * row, buf, row);
}

void EngineImpl::copyFromRemoteBuffer(const std::string &h, void *buf, std::uint64_t repeat, unsigned replica) {
  checkHeld("copyFromRemoteBuffer");
  std::size_t row = remoteBufferBytes(h);
  checkRemote(*state_, *this, h, repeat, replica, "copyFromRemoteBuffer");
  std::memcpy(buf, remote_.at(h)[replica].data() + repeat * row, row);
}

std::mt19937 &EngineImpl::kernelRandom(const StepNode *step, unsigned replica) {
  return kernelRandom_.at(std::make_pair(step, replica));
}

const MemoryReport &memoryReport(const poplar::Engine &engine) { return Access::impl(engine).memory(); }
const CycleReport &lastRunCycles(const poplar::Engine &engine) { return Access::impl(engine).lastRun(); }
HostStorage EngineImpl::hostStorage() const {
  HostStorage s = storage_;
  for (unsigned r = firstLocal_; r < firstLocal_ + numLocal_; ++r)
    if (replicas_[r]) s.pooled += replicas_[r]->pooledBytes();
  return s;
}

HostStorage hostStorage(const poplar::Engine &engine) { return Access::impl(engine).hostStorage(); }
void setHostThreads(poplar::Engine &engine, unsigned threads) { Access::impl(engine).setHostThreads(threads); }

} // namespace poplar_emulator

namespace poplar {

using poplar_emulator::EngineImpl;

Engine::Engine(const Graph &graph, ArrayRef<program::Program> progs, const OptionFlags &opts, ProgressFunc,
               const DebugContext &)
    : impl_(std::make_unique<EngineImpl>(graph, std::vector<program::Program>(progs.begin(), progs.end()), opts)) {}
Engine::Engine(const Graph &graph, program::Program prog, const OptionFlags &opts, ProgressFunc, const DebugContext &)
    : impl_(std::make_unique<EngineImpl>(graph, std::vector<program::Program>{prog}, opts)) {}
Engine::Engine(Engine &&) noexcept = default;
Engine &Engine::operator=(Engine &&) noexcept = default;
Engine::~Engine() = default;

void Engine::load(const Device &device) { impl_->load(device); }
void Engine::run(unsigned prog, const std::string &) { impl_->run(prog); }
void Engine::readTensor(StringRef handle, void *buf, void *bufEnd) { impl_->readTensor(handle, buf, bufEnd); }
void Engine::writeTensor(StringRef handle, const void *buf, const void *bufEnd) { impl_->writeTensor(handle, buf, bufEnd); }
void Engine::connectStream(StringRef handle, void *p, void *pEnd) { impl_->connectStream(handle, p, pEnd); }
void Engine::connectStream(StringRef handle, void *p) { impl_->connectStream(handle, p); }
void Engine::connectStreamToCallback(StringRef handle, StreamCallbackHandle f) {
  impl_->connectStreamToCallback(handle, poplar_emulator::EngineImpl::kAllReplicas, std::move(f));
}
void Engine::connectStreamToCallback(StringRef handle, unsigned replicaIndex, StreamCallbackHandle f) {
  impl_->connectStreamToCallback(handle, replicaIndex, std::move(f));
}
void Engine::copyToRemoteBuffer(void *buf, StringRef handle, uint64_t repeatIndex, unsigned replicationIndex) {
  impl_->copyToRemoteBuffer(buf, handle, repeatIndex, replicationIndex);
}
void Engine::copyFromRemoteBuffer(StringRef handle, void *buf, uint64_t repeatIndex, unsigned replicationIndex) {
  impl_->copyFromRemoteBuffer(handle, buf, repeatIndex, replicationIndex);
}
void Engine::checkRemoteBufferSize(StringRef handle, std::size_t bytes) const {
  std::size_t row = impl_->remoteBufferBytes(handle);
  if (bytes != row)
    throw poplar_error("poplar::Engine: remote buffer '" + handle.cloneAsString() + "' rows are " + std::to_string(row) +
                       " bytes but the host buffer has " + std::to_string(bytes));
}

void Engine::printProfileSummary(std::ostream &out, const OptionFlags &) {
  const auto &m = impl_->memory();
  out << "Memory per IPU (one replica of " << impl_->replicationFactor() << "):\n";
  for (const auto &ipu : m.ipus) {
    out << "  IPU " << ipu.ipu << ": " << ipu.total() << " of " << ipu.capacity << " bytes (always-live " << ipu.alwaysLive
        << ", peak live " << ipu.peakNotAlwaysLive << ", temporaries " << ipu.peakTemporary << ")\n";
    if (!ipu.peakLive.empty()) {
      out << "    live at its peak, step '" << ipu.peakStep << "':";
      for (const auto &v : ipu.peakLive) out << " '" << v.first << "' " << v.second;
      out << "\n";
    }
  }
  out << "  Remote buffers: " << m.remoteBufferBytes << " bytes\n";
  const auto &c = impl_->lastRun();
  out << "Last run: " << c.stepsRun << " steps, " << static_cast<unsigned long long>(c.total()) << " cycles (compute "
      << c.cycles.compute << ", exchange " << c.cycles.exchange << ", IPU-Link " << c.cycles.ipuLink << ", host "
      << c.cycles.host << ", sync " << c.cycles.sync << ")\n";
}

} // namespace poplar
