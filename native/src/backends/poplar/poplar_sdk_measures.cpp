// On the Poplar SDK the graph compiler places activations and kernel scratch itself and fails a graph that does
// not fit (poplar::graph_memory_allocation_error); per-IPU peaks and cycle counts are in the compilation and
// execution profiles that PopVision's libpva reads, which this build does not link. So the session's ledger holds
// the state it places (weights, gradients, moments) and no activation reservation, and runs add no cycle or link
// estimate: the traffic report's estimates are the emulator's.
#include "session/sdk_measures.h"

#ifndef FT5_HAVE_POPLAR
#error "backends/poplar is compiled only into the Poplar SDK build (FT5_HAVE_POPLAR)"
#endif

namespace ft5::session {

std::vector<std::size_t> compiled_activation_bytes(const poplar::Engine&, std::size_t stages) {
    return std::vector<std::size_t>(stages, 0);
}

RunCost last_run_cost(const poplar::Engine&) { return RunCost{}; }

// The IPU does the arithmetic; the host threads do not change it.
void use_host_threads(poplar::Engine&, unsigned) {}

}  // namespace ft5::session
