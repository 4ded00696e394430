#include "core/Memory.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>

#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/Layout.hpp"
#include "core/TypeInfo.hpp"
#include "core/Walk.hpp"

namespace poplar_emulator {
namespace {

class VarSet {
public:
  explicit VarSet(std::size_t n = 0) : words_((n + 63) / 64, 0) {}
  void set(std::size_t i) { words_[i / 64] |= std::uint64_t{1} << (i % 64); }
  bool test(std::size_t i) const { return (words_[i / 64] >> (i % 64)) & 1u; }
  VarSet &operator|=(const VarSet &o) {
    for (std::size_t i = 0; i < words_.size(); ++i) words_[i] |= o.words_[i];
    return *this;
  }
  VarSet &operator&=(const VarSet &o) {
    for (std::size_t i = 0; i < words_.size(); ++i) words_[i] &= o.words_[i];
    return *this;
  }
  VarSet minus(const VarSet &o) const {
    VarSet r = *this;
    for (std::size_t i = 0; i < words_.size(); ++i) r.words_[i] &= ~o.words_[i];
    return r;
  }
  bool operator==(const VarSet &o) const { return words_ == o.words_; }
  template <class F> void forEach(F &&f) const {
    for (std::size_t w = 0; w < words_.size(); ++w)
      for (std::uint64_t bits = words_[w]; bits; bits &= bits - 1) f(w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits)));
  }

private:
  std::vector<std::uint64_t> words_;
};

VarSet operator|(VarSet a, const VarSet &b) { return a |= b; }

struct StepSets {
  VarSet reads, writes, kills;
  std::vector<double> tempPerIpu;
};

class Analysis {
public:
  Analysis(const GraphState &state) : state_(state), n_(state.vars.size()), ipus_(state.replicaTarget.getNumIPUs()) {
    bytes_.assign(n_, std::vector<std::size_t>(ipus_, 0));
    unsigned perIpu = state.replicaTarget.getTilesPerIPU();
    for (std::size_t v = 0; v < n_; ++v) {
      std::size_t size = typeInfo(state.vars[v].type).size;
      for (const auto &run : state.vars[v].mapping.runs())
        bytes_[v][std::min<unsigned>(run.tile / perIpu, ipus_ - 1)] += (run.end - run.begin) * size;
    }
  }

  const StepSets &sets(const StepNode &step) {
    auto it = sets_.find(&step);
    if (it != sets_.end()) return it->second;
    StepAccess a;
    step.access(a);
    StepSets s{VarSet(n_), VarSet(n_), VarSet(n_), std::vector<double>(ipus_, 0)};
    for (const TensorLayout *t : a.reads)
      for (const Segment &seg : t->segments) s.reads.set(seg.var);
    std::map<std::uint32_t, std::vector<std::pair<std::size_t, std::size_t>>> written;
    std::vector<double> outElementsPerIpu(ipus_, 0);
    unsigned perIpu = state_.replicaTarget.getTilesPerIPU();
    for (const TensorLayout *t : a.writes) {
      for (const Segment &seg : t->segments) {
        s.writes.set(seg.var);
        auto &list = written[seg.var];
        if (seg.stride == 1) list.emplace_back(seg.start, seg.start + seg.count);
        else
          for (std::size_t k = 0; k < seg.count; ++k) {
            std::size_t i = static_cast<std::size_t>(seg.start + static_cast<std::int64_t>(k) * seg.stride);
            list.emplace_back(i, i + 1);
          }
      }
      forEachTileRun(state_, *t, [&](std::size_t b, std::size_t e, long tile) {
        if (tile >= 0) outElementsPerIpu[std::min<unsigned>(static_cast<unsigned>(tile) / perIpu, ipus_ - 1)] += static_cast<double>(e - b);
      });
    }
    for (auto &[v, list] : written) {
      std::sort(list.begin(), list.end());
      std::size_t covered = 0;
      for (auto [b, e] : list) {
        if (b > covered) break;
        covered = std::max(covered, e);
      }
      if (covered >= state_.vars[v].numElements) s.kills.set(v);
    }
    for (const TensorLayout *t : a.undefs)
      for (const Segment &seg : t->segments) s.kills.set(seg.var);
    double outTotal = 0;
    for (double e : outElementsPerIpu) outTotal += e;
    for (unsigned i = 0; i < ipus_; ++i)
      s.tempPerIpu[i] = outTotal > 0 ? static_cast<double>(a.tempBytes) * outElementsPerIpu[i] / outTotal
                                     : (i == 0 ? static_cast<double>(a.tempBytes) : 0.0);
    return sets_.emplace(&step, std::move(s)).first->second;
  }

  VarSet predicateVars(const poplar::Tensor &t) {
    VarSet s(n_);
    for (const Segment &seg : Access::impl(t)->segments) s.set(seg.var);
    return s;
  }

  // Live-in of `node` given its live-out; records each step's live bytes when `record`.
  VarSet live(const ProgramNode &node, const VarSet &out, bool record) {
    if (auto s = dynamic_cast<const SequenceNode *>(&node)) {
      VarSet cur = out;
      for (auto it = s->children.rbegin(); it != s->children.rend(); ++it) cur = live(**it, cur, record);
      return cur;
    }
    if (auto r = dynamic_cast<const RepeatNode *>(&node)) {
      if (r->count == 0) return out;
      if (r->count == 1) return live(*r->body, out, record);
      VarSet x = out;
      for (;;) {
        VarSet in = live(*r->body, x, false);
        VarSet next = out | in;
        if (next == x) break;
        x = next;
      }
      return live(*r->body, x, record);
    }
    if (auto w = dynamic_cast<const RepeatWhileNode *>(&node)) {
      VarSet pred = predicateVars(w->predicate);
      VarSet bodyIn(n_), condIn(n_);
      for (;;) {
        VarSet condOut = out | pred | bodyIn;
        VarSet nextCondIn = live(*w->cond, condOut, false);
        bodyIn = live(*w->body, nextCondIn, false);
        if (nextCondIn == condIn) break;
        condIn = nextCondIn;
      }
      if (record) {
        live(*w->cond, out | pred | bodyIn, true);
        live(*w->body, condIn, true);
      }
      return condIn;
    }
    if (auto i = dynamic_cast<const IfNode *>(&node)) {
      VarSet in = live(*i->thenBody, out, record) | live(*i->elseBody, out, record);
      return in | predicateVars(i->predicate);
    }
    if (auto c = dynamic_cast<const CallNode *>(&node)) return live(*c->body, out, record);
    if (auto st = dynamic_cast<const StepNode *>(&node)) {
      const StepSets &s = sets(*st);
      VarSet in = out.minus(s.kills) | s.reads;
      if (record) {
        recordStep(*st, in | out | s.writes, s);
        recordDeadAfter(*st, (s.reads | s.writes).minus(out));
      }
      return in;
    }
    return out;
  }

  void setAlwaysLive(VarSet a) {
    alwaysLive_ = std::move(a);
    peak_.assign(ipus_, 0);
    peakTemp_.assign(ipus_, 0);
    peakStep_.assign(ipus_, "");
    peakSet_.assign(ipus_, VarSet(n_));
  }

  MemoryReport report() {
    MemoryReport r;
    std::size_t perTile = state_.replicaTarget.getBytesPerTile();
    for (unsigned i = 0; i < ipus_; ++i) {
      IpuMemory m;
      m.ipu = i;
      m.capacity = perTile * state_.replicaTarget.getTilesPerIPU();
      alwaysLive_.forEach([&](std::size_t v) { m.alwaysLive += bytes_[v][i]; });
      m.peakNotAlwaysLive = peak_[i];
      m.peakTemporary = peakTemp_[i];
      m.peakStep = peakStep_[i];
      peakSet_[i].forEach([&](std::size_t v) {
        if (!alwaysLive_.test(v) && bytes_[v][i] > 0) m.peakLive.emplace_back(state_.vars[v].name, bytes_[v][i]);
      });
      std::stable_sort(m.peakLive.begin(), m.peakLive.end(), [](const auto &x, const auto &y) { return x.second > y.second; });
      if (m.peakLive.size() > IpuMemory::kPeakLiveListed) m.peakLive.resize(IpuMemory::kPeakLiveListed);
      r.ipus.push_back(m);
    }
    for (const auto &kv : state_.remoteBuffers)
      r.remoteBufferBytes += kv.second->numElements * kv.second->repeats * typeInfo(kv.second->type).size;
    for (std::size_t v = 0; v < n_; ++v) {
      std::size_t total = 0;
      for (std::size_t b : bytes_[v]) total += b;
      r.largestVariables.emplace_back(state_.vars[v].name, total);
    }
    std::stable_sort(r.largestVariables.begin(), r.largestVariables.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });
    return r;
  }

  std::size_t bytesOn(std::size_t v, unsigned ipu) const { return bytes_[v][ipu]; }

  VariableLifetimes lifetimes() {
    VariableLifetimes l;
    l.alwaysLive.assign(n_, false);
    alwaysLive_.forEach([&](std::size_t v) { l.alwaysLive[v] = true; });
    auto list = [&](const VarSet &set) {
      std::vector<std::size_t> vars;
      set.minus(alwaysLive_).forEach([&](std::size_t v) { vars.push_back(v); });
      return vars;
    };
    for (const auto &[step, s] : sets_) l.touched[step] = list(s.reads | s.writes);
    for (const auto &[step, dead] : deadAfter_) l.deadAfter[step] = list(dead);
    return l;
  }

private:
  // A step reached in several contexts (a called function, a loop body) frees only what is dead in all of them.
  void recordDeadAfter(const StepNode &st, const VarSet &dead) {
    auto it = deadAfter_.find(&st);
    if (it == deadAfter_.end()) deadAfter_.emplace(&st, dead);
    else it->second &= dead;
  }

  void recordStep(const StepNode &st, const VarSet &during, const StepSets &s) {
    for (unsigned i = 0; i < ipus_; ++i) {
      std::size_t live = 0;
      during.forEach([&](std::size_t v) {
        if (!alwaysLive_.test(v)) live += bytes_[v][i];
      });
      std::size_t temp = static_cast<std::size_t>(s.tempPerIpu[i]);
      // Steps are recorded last to first: on a tie the earlier step is the one reported.
      if (live + temp >= peak_[i] + peakTemp_[i]) {
        peak_[i] = live;
        peakTemp_[i] = temp;
        peakStep_[i] = st.name();
        peakSet_[i] = during;
      }
    }
  }

  const GraphState &state_;
  std::size_t n_;
  unsigned ipus_;
  std::vector<std::vector<std::size_t>> bytes_;
  std::map<const StepNode *, StepSets> sets_;
  std::map<const StepNode *, VarSet> deadAfter_;
  VarSet alwaysLive_;
  std::vector<std::size_t> peak_, peakTemp_;
  std::vector<std::string> peakStep_;
  std::vector<VarSet> peakSet_;
};

} // namespace

MemoryReport analyseMemory(const GraphState &state, const std::vector<NodePtr> &programs, VariableLifetimes *lifetimes) {
  Analysis a(state);
  std::size_t n = state.vars.size();
  VarSet always(n), touched(n);
  for (std::size_t v = 0; v < n; ++v)
    if (state.vars[v].constant) always.set(v);
  for (const auto &kv : state.hostHandles)
    for (const Segment &s : kv.second.layout.segments) always.set(s.var);
  std::set<const ProgramNode *> seen;
  for (const auto &p : programs)
    forEachStep(*p, [&](const StepNode &st) {
      const auto &s = a.sets(st);
      touched |= s.reads;
      touched |= s.writes;
      touched |= s.kills;
    }, seen);
  for (std::size_t v = 0; v < n; ++v)
    if (!touched.test(v)) always.set(v);
  for (const auto &p : programs) always |= a.live(*p, VarSet(n), false);
  a.setAlwaysLive(always);
  for (const auto &p : programs) a.live(*p, VarSet(n), true);
  MemoryReport r = a.report();
  if (lifetimes) *lifetimes = a.lifetimes();

  for (const IpuMemory &m : r.ipus) {
    if (m.total() <= m.capacity) continue;
    std::vector<std::pair<std::string, std::size_t>> onIpu;
    for (std::size_t v = 0; v < n; ++v)
      if (a.bytesOn(v, m.ipu)) onIpu.emplace_back(state.vars[v].name, a.bytesOn(v, m.ipu));
    std::stable_sort(onIpu.begin(), onIpu.end(), [](const auto &x, const auto &y) { return x.second > y.second; });
    std::ostringstream os;
    os << "Out of memory on IPU " << m.ipu << ": needs " << m.total() << " bytes (always-live " << m.alwaysLive
       << ", peak live " << m.peakNotAlwaysLive << " at step '" << m.peakStep << "', temporaries " << m.peakTemporary
       << ") but has " << m.capacity << " bytes free. Largest variables on IPU " << m.ipu << ":";
    for (std::size_t i = 0; i < onIpu.size() && i < 5; ++i) os << (i ? "," : "") << " '" << onIpu[i].first << "' " << onIpu[i].second << " bytes";
    throw poplar::graph_memory_allocation_error(os.str());
  }
  return r;
}

} // namespace poplar_emulator
