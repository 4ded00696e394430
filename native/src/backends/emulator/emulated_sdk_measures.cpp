// The emulated SDK's own reports (its private core/Report.hpp): compile-time liveness per IPU and a cycle and
// traffic estimate per run, and the host threads an engine's kernels share. Its matmuls run on OpenBLAS.
#include "session/sdk_measures.h"

#include <cblas.h>

#include "core/Report.hpp"

namespace ft5::session {

std::vector<std::size_t> compiled_activation_bytes(const poplar::Engine& engine, std::size_t stages) {
    const auto& report = poplar_emulator::memoryReport(engine);
    std::vector<std::size_t> bytes;
    for (std::size_t s = 0; s < stages; ++s)
        bytes.push_back(report.ipus.at(s).peakNotAlwaysLive + report.ipus.at(s).peakTemporary);
    return bytes;
}

RunCost last_run_cost(const poplar::Engine& engine) {
    const poplar_emulator::CycleReport& run = poplar_emulator::lastRunCycles(engine);
    return RunCost{run.total(), run.ipuLinkBytes, run.remoteBytes, run.linkSteps};
}

void use_host_threads(poplar::Engine& engine, unsigned threads) {
    // The engine splits its kernels, matmuls included, over its own host workers; OpenBLAS runs one thread in each,
    // so the process never holds two sets of compute threads that wait on each other.
    openblas_set_num_threads(1);
    poplar_emulator::setHostThreads(engine, threads);
}

}  // namespace ft5::session
