#pragma once
// Memory as Poplar's compiler allocates it, per IPU of one replica: the always-live variables plus the
// largest set of the other variables live at any one step, plus that step's kernel temporaries.
// Always live: constants, variables with a host read/write handle, variables no program touches, and
// variables whose value is read on entry to some program. Any other variable is live from a write
// to its last read; only a write that covers the whole variable, or WriteUndef, ends a live range.
#include <cstddef>
#include <map>
#include <vector>

#include "core/GraphState.hpp"
#include "core/ProgramNode.hpp"
#include "core/Report.hpp"

namespace poplar_emulator {

// The same liveness as host storage needs it, so the engine holds what the IPU would and not every variable at once.
// A variable that is not always live needs storage from a step that touches it until a step after which it is dead
// wherever that step runs.
struct VariableLifetimes {
  std::vector<bool> alwaysLive;                                    // by variable
  std::map<const StepNode *, std::vector<std::size_t>> touched;   // the others each step reads or writes
  std::map<const StepNode *, std::vector<std::size_t>> deadAfter; // the others dead after the step in every context
};

// Throws poplar::graph_memory_allocation_error when an IPU's total exceeds its capacity. Fills lifetimes when given.
MemoryReport analyseMemory(const GraphState &state, const std::vector<NodePtr> &programs,
                           VariableLifetimes *lifetimes = nullptr);

} // namespace poplar_emulator
