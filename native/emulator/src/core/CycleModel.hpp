#pragma once
// Cycles of one step in the documented model of core/Report.hpp.
#include "core/GraphState.hpp"
#include "core/ProgramNode.hpp"
#include "core/Report.hpp"

namespace poplar_emulator {

StepCycles stepCycles(const StepNode &step, const GraphState &state);

} // namespace poplar_emulator
