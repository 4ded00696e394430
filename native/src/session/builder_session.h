// session::BuilderSession: what an ft5_session handle owns when the T5 builder runs its plan: one engine
// (session_engine.h) holding the builder's programs (t5::T5Program) for every batch shape bucket asked for so far
// (shape_bucket.h), all sharing one copy of the parameters and AdamW moments. A shape not asked for before compiles
// the engine again with every shape so far, and the state (weights, gradients, moments) moves to it through the
// host; the session counts the program sets and the compilations.
// Tensor and data parallelism replicate the graph tp x dp times (t5/parallel.h): replica r runs on IPUs
// [r pp, (r + 1) pp), one per pipeline stage, and the session's tensors and batches stay logical (whole tensors,
// whole batches) on its side of the ABI. A step's micro-batches go through the stages in the plan's pipeline
// order on a program built for that many micro-batches.
// The device's memory report shows what each IPU would hold: the state (weights, and unless weights-only their
// gradients and two moments; a split parameter's shard) for the session's life, and each run's activations (the
// engine's compiled peak, the same for all of its programs) for the call. Arguments are checked by the ABI layer
// (session_api.cpp) first.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <poplar/Device.hpp>

#include "ft5/ft5.h"
#include "ipu/arena_reservation.h"
#include "ipu/device.h"
#include "session/batch_view.h"
#include "session/model_config.h"
#include "session/builder_decode.h"
#include "session/session_engine.h"

namespace ft5::session {

struct ParamInfo {
    std::string name;
    std::vector<int64_t> shape;
    int64_t count = 0;        // elements of the logical tensor
    int split_dim = -1;       // the dimension tensor parallelism splits (-1: none)
    uint32_t shards = 1;      // tp for a split parameter, else 1
    int64_t padded_dim = 0;   // the split dimension padded to a multiple of the shards (0: not split)
    int64_t shard_elems = 0;  // elements of one shard (the whole tensor when not split)
    bool no_weight_decay = false;
    std::size_t builder_index = 0;  // its place in t5::Parameters::all()
    std::size_t stage = 0;          // the pipeline stage holding it
};

// A shape the session will run, in its calls' terms (ft5_program_shape): a batch of `batch` rows x src_len ->
// tgt_len (micro_batches per call of forward_backward_micro_batches), or a decode of `batch` rows of src_len tokens
// with room for tgt_len steps.
struct ShapeRequest {
    bool decode = false;
    uint32_t batch = 0, src_len = 0, tgt_len = 0;
    uint32_t micro_batches = 1;
    bool training = false;
};

class BuilderSession {
public:
    // Runs the local data-parallel replicas of plan (the run's other host instances the rest). Throws
    // FT5_ERR_OUT_OF_MEMORY when the state does not fit the IPUs of the local replicas.
    BuilderSession(std::shared_ptr<ipu::Device> device, const ModelConfig& config,
                   const t5::ParallelPlan& plan, const LocalReplicas& local);
    ~BuilderSession();

    const ModelConfig& config() const noexcept { return config_; }
    bool weights_only() const noexcept { return !plan_.trains; }
    const t5::ParallelPlan& plan() const noexcept { return plan_; }
    const LocalReplicas& local() const noexcept { return local_; }
    const std::vector<ParamInfo>& params() const noexcept { return params_; }
    std::optional<std::size_t> find(const std::string& name) const;
    // The logical tensor, or (shard >= 0) tensor-parallel rank `shard`'s shard of it.
    void write(std::size_t index, ft5_param_slot slot, const float* data, int64_t shard = -1);
    void read(std::size_t index, ft5_param_slot slot, float* data, int64_t shard = -1);

    // Returns the mean loss over the labels (NaN without labels).
    double forward(const BatchView& batch, float* logits, float* encoder_hidden);
    double forward_backward(const BatchView& batch, float loss_weight);
    // Each micro-batch's forward and backward, the gradients of every loss * loss_weight added up; with several
    // pipeline stages in the plan's schedule (one program for the micro-batches, padded to one shape), else one
    // micro-batch after another. Returns each micro-batch's mean loss.
    std::vector<double> forward_backward_micro_batches(const std::vector<BatchView>& batches,
                                                       float loss_weight);
    void zero_gradients();
    ft5_step_result optimizer_step(const ft5_optimizer_step& step);

    // The dropout stream's position: training passes so far; each draws its seed from (config seed, position).
    uint64_t rng_state() const noexcept { return rng_counter_; }
    void set_rng_state(uint64_t state) noexcept { rng_counter_ = state; }

    void decode_begin(const int32_t* ids, const int32_t* mask, uint32_t rows, uint32_t src_len, uint32_t max_steps);
    BuilderDecode* decode() noexcept { return decode_ ? decode_.get() : nullptr; }
    void decode_end() noexcept { decode_.reset(); }

    // With the plan's activation ranges: each module's largest |activation| in the last forward (empty before one),
    // and the modules, in the same order (every program set records the same ones).
    const std::vector<float>& activation_ranges() const noexcept { return activation_ranges_; }
    const std::vector<std::string>& activation_sites() const { return engine_->program().activationSites(0); }

    // The program sets (one per shape bucket) the engine holds.
    uint32_t programs_built() const noexcept { return uint32_t(sets_.size()); }
    // Engine compilations so far: on hardware each is a graph compilation of every program set then known.
    uint32_t compilations() const noexcept { return compilations_; }

    // Holds the engine's activations in the arena of every local IPU for one run.
    std::vector<ipu::ArenaReservation> activations() const;

    // The programs a replica's batch shape runs on, or a request in the calls' terms (shape_bucket.h: the smallest
    // declared set that holds it, else its bucket's, built when first asked for by compiling the engine again), on
    // the engine that holds the state.
    ShapePrograms& program_for(const t5::BatchShape& shape, bool dropout);
    ShapePrograms& program_for(const ShapeRequest& request);
    // Compiles the engine once with the program sets of every request it does not hold yet, each at its shape as
    // declared.
    void prepare(const std::vector<ShapeRequest>& requests);
    // The decode program a decode request runs on (run_shape), compiling nothing.
    t5::DecodeShape decode_runs_on(const ShapeRequest& request) const;
    // The program shape one replica runs batch b on (run_shape).
    t5::BatchShape runs_on(const BatchView& b) const { return run_shape({replica_shape(b), drops(b.training), {}}).batch; }

private:
    // A step's micro-batches through the pipeline stages in one program.
    std::vector<double> scheduled_micro_batches(const std::vector<BatchView>& batches, float loss_weight);
    // The rows one replica runs of batch b, at the batch's lengths.
    t5::BatchShape replica_shape(const BatchView& b) const;
    using Key = std::tuple<std::size_t, std::size_t, std::size_t, std::size_t, bool, std::size_t, std::size_t,
                           std::size_t>;
    static Key key_of(const t5::ProgramShape& s);
    // Whether a training pass drops: a program set without dropout serves every call when the rate is 0.
    bool drops(bool training) const { return training && t5_config_.dropout > 0.0f; }
    // A request as a program set's shape: a batch's one replica's rows at its lengths, a decode's rows at its
    // prompt length and steps.
    t5::ProgramShape declared_shape(const ShapeRequest& r) const;
    // The program set a replica's rows run on: the smallest declared set that they fit (same micro-batches and
    // dropout), else their power-of-two bucket. Never a bucket another batch compiled: dropout draws its mask over
    // the program's shape, so a batch's result must not depend on what ran before it (a resumed run repeats it).
    t5::ProgramShape run_shape(const t5::ProgramShape& rows) const;
    // The same for a decode: the smallest declared decode set that holds its rows, prompt length and steps, else its
    // power-of-two bucket.
    t5::ProgramShape run_decode_shape(const t5::DecodeShape& want) const;
    // The declared set with the fewest tokens among those tokens_if_it_holds gives a count for (null: none).
    const t5::ProgramShape* smallest_declared(
        const std::function<std::optional<std::size_t>(const t5::ProgramShape&)>& tokens_if_it_holds) const;
    // Compiles the engine with the program sets so far and those of `wanted` it lacks (none lacking: nothing), and
    // moves the state to it.
    void ensure(const std::vector<t5::ProgramShape>& wanted);
    ShapePrograms& programs_of(const t5::ProgramShape& shape);
    // Every state tensor of every parameter (state_handles order), each as its local replicas' blocks.
    std::vector<std::vector<float>> read_state(SessionEngine& from);
    void write_state(SessionEngine& to, const std::vector<std::vector<float>>& state);
    // The local replicas' IPUs of one pipeline stage.
    std::vector<uint32_t> local_ipus(std::size_t stage) const;
    const t5::Parameter& builder_param(const ParamInfo& p) const;
    // Throws FT5_ERR_OUT_OF_MEMORY, naming the IPU, the bytes and the largest tensors, when the state of params does
    // not fit the free on-chip memory of every local IPU (before anything is compiled or allocated).
    // What the arena of one of this process's IPUs has left.
    uint64_t free_bytes(uint32_t ipu, ft5_memory_location location) const;
    void check_state_fits(const t5::T5Program& program) const;
    // Reserves the decode state an engine keeps while it lives (FT5_ERR_OUT_OF_MEMORY naming the IPU when it does
    // not fit).
    std::vector<ipu::ArenaReservation> reserve_decode_state(const SessionEngine& engine) const;
    // Where a state tensor lives: on chip, or in streaming memory (phased execution, streamed moments).
    static ft5_memory_location location_of(const t5::T5Program& program, const std::string& handle);
    // The bytes of one element of the state tensor `handle` names (weights of the plan's precision; FLOAT gradients
    // and moments).
    uint64_t state_element_bytes(const t5::T5Program& program, const std::string& handle) const;
    // After an optimizer step every data-parallel group holds the summed gradients; the next pass that adds to
    // them must find them in group 0 only.
    void keep_summed_gradients_in_first_group();
    std::vector<std::string> state_handles(const std::string& name) const;

    std::shared_ptr<ipu::Device> device_;
    ModelConfig config_;
    t5::T5Config t5_config_;
    t5::ParallelPlan plan_;
    LocalReplicas local_;
    bool gradients_summed_ = false;  // since the last optimizer step (data parallelism only)
    std::vector<ParamInfo> params_;
    std::vector<ipu::ArenaReservation> state_;  // one per parameter and slot
    std::vector<ipu::ArenaReservation> decode_state_;  // the engine's decode caches, per local IPU
    std::unique_ptr<poplar::Device> sdk_device_;  // the session's IPUs
    std::vector<t5::ProgramShape> sets_;          // the engine's program sets, in order
    std::map<Key, std::size_t> set_of_;           // each shape's program set
    std::set<Key> declared_;                      // the shapes prepare declared
    std::unique_ptr<SessionEngine> engine_;       // loaded, holding the session state
    uint32_t compilations_ = 0;
    bool state_defined_ = false;  // written or trained since creation (until then there is no state to move)
    uint64_t rng_counter_ = 0;
    uint64_t rng_key_ = 0;
    std::unique_ptr<BuilderDecode> decode_;
    std::vector<float> activation_ranges_;  // the last forward's
};

}  // namespace ft5::session
