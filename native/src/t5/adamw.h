// AdamW as a program, in torch.optim.AdamW's order of operations: the gradients are unscaled (loss scale) and
// clipped to a global norm, decoupled weight decay per group (none for names with "norm" or "bias" unless every
// parameter decays), then the bias-corrected moment update. A non-finite gradient norm skips the update.
// The per-step numbers (learning rate, bias corrections, ...) come from the host through a stream, so one
// program serves every step. Replicated, the step first sums every gradient over the data-parallel group (each
// replica's gradients hold its own rows' part until then), and the global norm counts each split parameter's
// shards once and each whole one once. With the moments in streaming memory (stream_moments) they are
// RemoteBuffers with the same handles, fetched and stored around each parameter's update; streamed parameters
// (phased execution) are fetched, and their gradients and weights stored, the same way.
#pragma once

#include <array>
#include <cstdint>
#include <deque>

#include <optional>
#include <string>

#include <poplar/DataStream.hpp>
#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/parallel.h"
#include "t5/parameters.h"

namespace ft5::t5 {

namespace streams {
inline constexpr const char* kOptimizerSettings = "optimizer_settings";  // FLOAT [AdamWStep::kCount], to the device
inline constexpr const char* kOptimizerResult = "optimizer_result";      // FLOAT [2]: gradient norm, skipped (0/1)
// UNSIGNED_INT [2], to the device when the HALF weights round stochastically: the step's rounding seed, so a step
// rounds alike however the run got there (a resumed run repeats it), and on every replica.
inline constexpr const char* kRoundingSeed = "rounding_seed";
}  // namespace streams

// One step's settings, as the host gives them.
struct AdamWStep {
    uint64_t step = 1;  // 1-based, for the bias corrections
    double learning_rate = 1e-3;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0.0;
    bool decay_all_parameters = false;  // else names with "norm" or "bias" do not decay
    double grad_scale = 1.0;            // the loss scale the gradients carry
    double max_grad_norm = 0.0;         // 0: no clipping
    uint64_t rounding_seed = 0;         // the stochastic rounding's seed for this step (precision.h)

    // Throws std::invalid_argument naming the field out of range.
    void validate() const;

    // The stream's values for this step.
    static constexpr std::size_t kCount = 10;
    std::array<float, kCount> streamValues() const;
    std::array<unsigned, 2> roundingSeedValues() const {
        return {unsigned(rounding_seed), unsigned(rounding_seed >> 32)};
    }
};

// Whether a parameter decays when decay_all_parameters is off (torch recipes exempt norms and biases).
bool decaysByDefault(const std::string& parameter_name);

class AdamW {
public:
    // Adds the two moments of every parameter (host handles "adam_m/<name>", "adam_v/<name>", FLOAT whatever the
    // weights' type, zero at first; with stream_moments, remote buffers of those handles, which the host zeroes).
    // stochastic_rounding: HALF weights round into HALF stochastically, from the step's rounding seed.
    // master_weights: HALF weights have a FLOAT master copy ("master/<name>", beside the moments) that the update
    // changes and the weight is rounded from to nearest; the host writes both and reads the master.
    AdamW(poplar::Graph& graph, const Parameters& params, const ReplicaGroups& groups, bool stream_moments = false,
          bool stochastic_rounding = false, bool master_weights = false);
    bool keepsMasterWeights() const { return master_; }
    bool roundsStochastically() const { return rounding_seed_in_.has_value(); }

    // Reads the step's settings, updates every weight and moment, sends the gradient norm and whether the step
    // was skipped. Gradients are left as they were (with data parallelism: summed over the group, in place).
    poplar::program::Sequence step() const;

    static std::string firstMomentHandle(const std::string& name) { return kFirstMoment + name; }
    static std::string secondMomentHandle(const std::string& name) { return kSecondMoment + name; }
    static std::string masterHandle(const std::string& name) { return kMaster + name; }
    // A moment's or a master weight's: the optimizer's state, placed as the moments are.
    static bool isMomentHandle(const std::string& handle) {
        return handle.rfind(kFirstMoment, 0) == 0 || handle.rfind(kSecondMoment, 0) == 0 ||
               handle.rfind(kMaster, 0) == 0;
    }
    bool streamsMoments() const { return !remote_moments_.empty(); }

private:
    static constexpr const char* kFirstMoment = "adam_m/";
    static constexpr const char* kSecondMoment = "adam_v/";
    static constexpr const char* kMaster = "master/";
    struct Moments {
        poplar::Tensor m, v;
        poplar::Tensor master;  // with master weights
    };
    struct RemoteMoments {
        poplar::RemoteBuffer m, v;
        std::optional<poplar::RemoteBuffer> master;
    };
    poplar::Graph& graph_;
    const Parameters& params_;
    const ReplicaGroups& groups_;
    bool master_ = false;
    std::deque<Moments> moments_;
    std::deque<RemoteMoments> remote_moments_;  // by parameter, when streamed
    // DataStream has no default constructor in the SDK: set while the graph is built.
    std::optional<poplar::DataStream> settings_in_, result_out_, rounding_seed_in_;
    poplar::Tensor settings_, rounding_seed_;
};

}  // namespace ft5::t5
