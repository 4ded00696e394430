// The T5 graph and its programs, built once: the parameters as variables (one copy, shared by every program), and
// for each static shape asked for (a program set: a batch shape and, optionally, a decode shape) the batch through
// host streams of its own and programs that run the forward pass, run the forward and backward passes (adding
// every parameter's gradient), run a training step, and cached decoding (begin, then one step per token). Zeroing
// the gradients and the AdamW update are the graph's, one of each. Dropout acts in the training passes of a set
// built with it: the forward program and decoding evaluate the model, as Hugging Face's eval mode does.
// Under a parallel plan (parallel.h) the graph is replicated tp x dp times; every stream and host handle is then
// per replica (shard_layout.h maps shards and rows to the logical tensors and batch). With pipeline stages each
// layer runs on its stage's IPU (stages.h) and a micro-batch's pass is a chain of segments; the scheduled
// micro-batches program builds that pass once and runs a step's micro-batches through it in the plan's pipeline
// order, each stage stashing what its micro-batches in flight need later (micro_batch_stash.h), the pipeline's
// steady phase as one Repeat (pipeline_schedule.h). Under phased
// execution the parameters live in RemoteBuffers and each layer copies in what it uses (parameters.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/activation_ranges.h"
#include "t5/adamw.h"
#include "t5/cached_decoding.h"
#include "t5/cross_entropy.h"
#include "t5/dropout.h"
#include "t5/lm_head.h"
#include "t5/parallel.h"
#include "t5/parameters.h"
#include "t5/stack.h"
#include "t5/stages.h"
#include "t5/stream_handle.h"
#include "t5/t5_config.h"

namespace ft5::t5 {

// Host streams, each program set its own (stream_handle.h). To the device, INT per token: input ids and attention
// mask [batch, src_len], decoder input ids and labels [batch, tgt_len] (-100: not counted). From the device,
// FLOAT: the loss (scalar), logits [batch, tgt_len, vocab] and the encoder's output [batch, src_len, d_model] (the
// forward program). Replicated,
// each replica reads and sends its own block: batch is the rows of one replica (replicas of one tensor-parallel
// group read the same rows), and its logits are those of its vocabulary shard ([batch, tgt_len, padded vocab / tp]).
namespace streams {
inline constexpr const char* kInputIds = "input_ids";
inline constexpr const char* kAttentionMask = "attention_mask";
inline constexpr const char* kDecoderInputIds = "decoder_input_ids";
inline constexpr const char* kLabels = "labels";
inline constexpr const char* kLossScale = "loss_scale";  // FLOAT [1]: multiplies the gradients (forward_backward)
// UNSIGNED_INT [2]: the dropout masks' seed, read by each forward_backward run and by each micro-batch of the
// training step (give one per micro-batch); the stream exists only when dropout_rate > 0.
inline constexpr const char* kDropoutSeed = "dropout_seed";
inline constexpr const char* kLoss = "loss";
inline constexpr const char* kLogits = "logits";
inline constexpr const char* kEncoderOutput = "encoder_output";
// FLOAT [2], from the training step: the step's mean loss over every counted label, and 1 when that loss or any
// gradient is not finite (else 0).
inline constexpr const char* kTrainingResult = "training_result";
}  // namespace streams

// One program set's static shapes. Without a decode shape its decoding programs are empty.
struct ProgramShape {
    BatchShape batch;
    bool dropout = false;  // the training passes drop (when the config's dropout rate is above 0)
    DecodeShape decode;
};

class T5Program {
public:
    // A program set's programs (programIndex gives Engine::run's index; for set 0 it is the enum's value).
    // kZeroGradients and kOptimizerStep are the graph's: every set names the same program.
    // kTrainingStep: sets the gradients to those of the mean loss over shape.micro_batches micro-batches read in
    // turn from the streams (every counted label of the step weighs the same), and sends the training result.
    // kScheduledMicroBatches (built when shape.micro_batches > 1): forward_backward of each of the micro-batches,
    // in the plan's pipeline order: each reads its batch, loss scale and dropout seed and sends its loss, and the
    // gradients of every micro-batch's scaled mean loss add up, in micro-batch order on every stage.
    enum Index : unsigned {
        kZeroGradients = 0,
        kForward = 1,
        kForwardBackward = 2,
        kOptimizerStep = 3,
        kDecodeBegin = 4,
        kDecodeStep = 5,
        kTrainingStep = 6,
        kScheduledMicroBatches = 7,
        kProgramCount = 8
    };

    // One program set per shape, in order. The graph's replication factor must be plan.replicas(); a plan that does
    // not fit the config throws std::invalid_argument naming the field.
    T5Program(poplar::Graph& graph, const T5Config& config, const std::vector<ProgramShape>& sets,
              const ParallelPlan& plan = {});
    // One program set, with dropout when the config has it.
    T5Program(poplar::Graph& graph, const T5Config& config, const BatchShape& shape, const DecodeShape& decode = {},
              const ParallelPlan& plan = {});
    ~T5Program();

    const Parameters& parameters() const { return params_; }
    const ParallelPlan& plan() const { return groups_.plan(); }
    const std::vector<poplar::program::Program>& programs() const { return programs_; }
    std::size_t setCount() const { return sets_.size(); }
    unsigned programIndex(std::size_t set, Index index) const;
    const BatchShape& shape(std::size_t set = 0) const;
    const DecodeShape& decodeShape(std::size_t set = 0) const;
    // What every set's cached decoding keeps on `stage` between its programs' runs (CachedDecoding::stateBytes).
    std::size_t decodeStateBytes(std::size_t stage) const;
    // A set's training passes' dropout: forward_backward's sites, then the training step's; null when it has none.
    const Dropout* dropout(std::size_t set = 0) const;
    // The modules whose ranges a set's forward program sends (stream kActivationRanges), when the plan asks for them.
    const std::vector<std::string>& activationSites(std::size_t set = 0) const;
    // Whether a host handle (a parameter's weight or gradient, a moment) names a remote buffer (streaming memory:
    // Engine::copyToRemoteBuffer) rather than a variable (Engine::writeTensor).
    bool inStreamingMemory(const std::string& handle) const;
    // The element type of the state tensor a host handle names: the weights' is the plan's precision, the
    // gradients and moments are FLOAT.
    poplar::Type stateType(const std::string& handle) const;
    // Whether the optimizer step reads a rounding seed (streams::kRoundingSeed).
    bool roundsStochastically() const { return adamw_ && adamw_->roundsStochastically(); }
    // Whether the HALF weights have FLOAT master copies (AdamW::masterHandle): a weight's host handle then stands for
    // its master, which the HALF weight is rounded from.
    bool keepsMasterWeights() const { return adamw_ && adamw_->keepsMasterWeights(); }

private:
    // What one micro-batch's pass asks for.
    struct PassKind {
        bool with_gradient = false;  // add the backward pass
        bool mean_gradient = true;   // the gradients of the mean loss (else of the total)
        bool send_loss = false;      // send the mean loss
        bool send_outputs = false;   // send the logits and the encoder's output
        bool send_ranges = false;    // record and send the activations' ranges (activation_ranges.h)
    };
    struct ProgramSet;
    void addProgramSet(const ProgramShape& shape);
    // Reads the batch, runs the model, sends the loss; with_gradient adds the backward pass.
    poplar::program::Sequence step(ProgramSet& set, bool with_gradient, bool send_outputs);
    // One micro-batch read from the set's streams: the model and its loss into the forward chain and,
    // with_gradient, the backward pass into the backward chain. dropout: the training pass's (null: none).
    CrossEntropy microBatch(ProgramSet& set, SegmentChain& forward, SegmentChain& backward, const PassKind& kind,
                            Dropout* dropout);
    poplar::program::Sequence trainingStep(ProgramSet& set);
    poplar::program::Sequence scheduledMicroBatches(ProgramSet& set);

    poplar::Graph& graph_;
    T5Config config_;
    ReplicaGroups groups_;
    Stages stages_;
    Parameters params_;
    std::size_t head_stage_ = 0;  // the LM head's and the loss's
    const Parameter* encoder_embedding_ = nullptr;
    const Parameter* decoder_embedding_ = nullptr;
    const Parameter* lm_weight_ = nullptr;
    StackWeights encoder_weights_, decoder_weights_;
    std::unique_ptr<LmHead> lm_head_;
    std::unique_ptr<AdamW> adamw_;
    poplar::program::Sequence zero_gradients_, optimizer_step_;
    std::vector<std::unique_ptr<ProgramSet>> sets_;
    std::vector<poplar::program::Program> programs_;
};

}  // namespace ft5::t5
