// The session's engine: one T5 graph holding a program set for every static shape asked for so far
// (t5_program.h), all sharing one copy of the parameters and AdamW moments, compiled into one poplar::Engine. On
// hardware the engine is one graph compilation, and its memory is fixed for all of its programs: each IPU holds
// the state and the largest activations of any program. A new shape means compiling the engine again with every
// shape so far (the session moves the state across).
// Under a parallel plan the graph is replicated tp x dp times, replica r on IPUs [r pp, (r + 1) pp), one per
// pipeline stage: the host side here speaks in the local replicas' logical tensors (shard_layout.h), and each
// program set's stream buffers (shape_programs.h) in their batches.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <poplar/Device.hpp>
#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>

#include "ipu/device.h"
#include "session/shape_programs.h"
#include "t5/shard_layout.h"
#include "t5/t5_program.h"

namespace ft5::session {

// The data-parallel replicas this process runs, [first, first + count) of the plan's dp; count 0: all of them. The
// run's other host instances run the others (the SDK's runtime replicas; collectives between them go over MPI).
struct LocalReplicas {
    std::size_t first = 0;
    std::size_t count = 0;
};

class SessionEngine {
public:
    // Builds the graph with one program set per shape, calls before_compile (when given) with the program built and
    // compiles it for device (replicas x pp IPUs, which must outlive the engine), to run the local replicas. It is
    // not loaded: load() puts it on the device. Each run adds the engine's cycle estimate and link traffic to
    // traffic (which must outlive the engine). Throws FT5_ERR_OUT_OF_MEMORY when the compiled programs do not fit.
    SessionEngine(poplar::Device& device, const t5::T5Config& config, const t5::ParallelPlan& plan,
                  ipu::TrafficCounters& traffic, const std::vector<t5::ProgramShape>& sets,
                  const LocalReplicas& local = {},
                  const std::function<void(const t5::T5Program&)>& before_compile = {});
    ~SessionEngine();

    const t5::T5Program& program() const { return *program_; }
    const t5::ParallelPlan& plan() const { return plan_; }
    // The host buffers' layout: the local replicas (tp x local data-parallel groups).
    const t5::ParallelPlan& host() const { return host_; }
    const LocalReplicas& local() const { return local_; }
    // The run-wide index of this process's first replica.
    std::size_t first_replica() const { return local_.first * plan_.tp; }
    std::size_t vocab() const { return vocab_; }
    std::size_t d_model() const { return d_model_; }
    poplar::Engine& engine() { return *engine_; }
    // Program set `set`'s stream buffers.
    ShapePrograms& shape_programs(std::size_t set) { return *shapes_.at(set); }

    // Loads the engine onto the device (displacing the one there): its tensors start undefined, and its state in
    // streaming memory is zeroed, as it is on chip.
    void load();
    // The most bytes one IPU holds beyond the variables always live (activations and kernel scratch) in any of the
    // engine's programs, as compiled, for the IPU of each pipeline stage. Every replica holds the same.
    std::size_t activation_bytes(std::size_t stage) const { return activation_bytes_.at(stage); }
    void run(std::size_t set, t5::T5Program::Index index);

    // A state tensor (weight, gradient or moment handle of p) in Hugging Face's shape. The gradient read sums the
    // data-parallel groups' parts (each holds its own rows' gradient until an optimizer step sums them).
    std::vector<float> read_logical(const t5::Parameter& p, const std::string& handle, bool sum_data);
    void write_logical(const t5::Parameter& p, const std::string& handle, const std::vector<float>& logical);
    // Tensor-parallel rank `rank`'s shard (every data-parallel group's copy of it on write).
    std::vector<float> read_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank, bool sum_data);
    void write_shard(const t5::Parameter& p, const std::string& handle, std::size_t rank,
                     const std::vector<float>& shard);
    // Every replica's block of a state tensor, in replica order (moving the state between engines); a tensor in
    // streaming memory through its remote buffer.
    std::vector<float> read_replicas(const t5::Parameter& p, const std::string& handle);
    void write_replicas(const std::string& handle, const std::vector<float>& blocks);

    void set_optimizer_settings(const std::array<float, t5::AdamWStep::kCount>& values);
    // The optimizer step's rounding seed (read only when the HALF weights round stochastically).
    void set_rounding_seed(const std::array<unsigned, 2>& seed);
    // The gradient norm and whether the step was skipped (the same on every replica).
    std::array<float, 2> optimizer_result() const { return {optimizer_result_.at(0), optimizer_result_.at(1)}; }

private:
    void zero_streaming_state();
    // Whether `handle` names a weight that has a FLOAT master copy.
    bool master_of(const std::string& handle) const;
    // One state tensor's replica blocks, as the handle names it (read_replicas and write_replicas map a weight with a
    // master copy to its master).
    std::vector<float> read_tensor(const t5::Parameter& p, const std::string& handle);
    void write_tensor(const std::string& handle, const std::vector<float>& blocks);

    t5::ParallelPlan plan_;  // the graph's, every instance's replicas
    LocalReplicas local_;
    t5::ParallelPlan host_;
    std::size_t vocab_, d_model_;
    ipu::TrafficCounters& traffic_;
    poplar::Device& device_;
    std::unique_ptr<poplar::Graph> graph_;
    std::unique_ptr<t5::T5Program> program_;
    std::unique_ptr<poplar::Engine> engine_;
    std::vector<std::size_t> activation_bytes_;  // by stage
    std::vector<float> optimizer_settings_, optimizer_result_;
    std::vector<unsigned> rounding_seed_;  // every replica's copy of the step's seed
    std::vector<std::unique_ptr<ShapePrograms>> shapes_;  // by program set
};

}  // namespace ft5::session
