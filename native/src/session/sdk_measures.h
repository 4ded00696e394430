// What a session learns from its SDK beyond the Poplar API proper: each pipeline stage's compiled activation peak,
// the cost of the engine's last run, and the host threads its arithmetic may use. The emulated SDK reports them
// (backends/emulator/emulated_sdk_measures.cpp); on the Poplar SDK the compiler and PopVision's libpva own them
// (backends/poplar/poplar_sdk_measures.cpp). Exactly one of the two is compiled into a build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <poplar/Engine.hpp>

namespace ft5::session {

struct RunCost {
    double cycles = 0;
    double ipu_link_bytes = 0;  // one replica's
    double remote_bytes = 0;    // one replica's
    uint64_t link_steps = 0;
};

// The most bytes the IPU of each stage (0..stages-1 of a replica) holds beyond its always-live variables.
std::vector<std::size_t> compiled_activation_bytes(const poplar::Engine& engine, std::size_t stages);
RunCost last_run_cost(const poplar::Engine& engine);
// Sets the host threads the engine's arithmetic uses, where the SDK has any.
void use_host_threads(poplar::Engine& engine, unsigned threads);

}  // namespace ft5::session
