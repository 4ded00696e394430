#pragma once
// Floating-point control registers, set by programs, as the SDK's poplar/CSRFunctions.hpp.
#include <poplar/DebugContext.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>

namespace poplar {

// inv: invalid operation raises; div: divide by zero raises; oflo: overflow raises;
// esr: stochastic rounding; nanoo: a half overflow gives NaN instead of saturating to +-65504.
struct FloatingPointBehaviour {
  FloatingPointBehaviour(bool inv, bool div, bool oflo, bool esr, bool nanoo)
      : inv(inv), div(div), oflo(oflo), esr(esr), nanoo(nanoo) {}
  bool inv;
  bool div;
  bool oflo;
  bool esr;
  bool nanoo;
};

void setFloatingPointBehaviour(Graph &graph, program::Sequence &prog, const FloatingPointBehaviour &behaviour,
                               const DebugContext &debugContext = {});
void setStochasticRounding(Graph &graph, program::Sequence &prog, bool behaviour,
                           const DebugContext &debugContext = {});

} // namespace poplar
