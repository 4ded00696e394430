#include <poplar/CSRFunctions.hpp>

#include "core/Kernel.hpp"
#include "core/ReplicaContext.hpp"

namespace poplar_emulator {
namespace {

// Writes the floating-point control register of every replica that runs it.
class ControlRegisterStep : public StepNode {
public:
  ControlRegisterStep(std::string name, bool setAll, FpState value)
      : StepNode(std::move(name)), setAll_(setAll), value_(value) {}
  void access(StepAccess &) const override {}
  StepWork work() const override {
    StepWork w;
    w.syncs = 0;
    return w;
  }
  void run(ReplicaContext &r) const override {
    if (setAll_) r.fp = value_;
    else r.fp.esr = value_.esr;
  }

private:
  bool setAll_;
  FpState value_;
};

} // namespace
} // namespace poplar_emulator

namespace poplar {

void setFloatingPointBehaviour(Graph &, program::Sequence &prog, const FloatingPointBehaviour &b,
                               const DebugContext &debugContext) {
  poplar_emulator::FpState s{b.inv, b.div, b.oflo, b.esr, b.nanoo};
  poplar_emulator::appendStep(prog, std::make_shared<poplar_emulator::ControlRegisterStep>(debugContext.getPathName(), true, s));
}

void setStochasticRounding(Graph &, program::Sequence &prog, bool behaviour, const DebugContext &debugContext) {
  poplar_emulator::FpState s;
  s.esr = behaviour;
  poplar_emulator::appendStep(prog, std::make_shared<poplar_emulator::ControlRegisterStep>(debugContext.getPathName(), false, s));
}

} // namespace poplar
