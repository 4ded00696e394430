#pragma once
// Memory as Poplar's compiler allocates it, per IPU of one replica: the always-live variables plus the
// largest set of the other variables live at any one step, plus that step's kernel temporaries.
// Always live: constants, variables with a host read/write handle, variables no program touches, and
// variables whose value is read on entry to some program. Any other variable is live from a write
// to its last read; only a write that covers the whole variable, or WriteUndef, ends a live range.
#include <vector>

#include "core/GraphState.hpp"
#include "core/ProgramNode.hpp"
#include "core/Report.hpp"

namespace poplar_emulator {

// Throws poplar::graph_memory_allocation_error when an IPU's total exceeds its capacity.
MemoryReport analyseMemory(const GraphState &state, const std::vector<NodePtr> &programs);

} // namespace poplar_emulator
