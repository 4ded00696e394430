#pragma once
// Cycles of one step in the documented model of core/Report.hpp.
#include "core/GraphState.hpp"
#include "core/ProgramNode.hpp"
#include "core/Report.hpp"

#include <set>
#include <vector>

namespace poplar_emulator {

StepCycles stepCycles(const StepNode &step, const GraphState &state);

// The IPUs of one replica that a step works on (those holding its inputs or outputs); all of them when it has none.
std::vector<unsigned> stepIpus(const StepNode &step, const GraphState &state);

} // namespace poplar_emulator
