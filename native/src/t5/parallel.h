// Tensor and data parallelism by replication, as Graphcore's popxl T5 expresses them: the graph is replicated
// tp x dp times and replica r = dp_index * tp + tp_rank holds tensor-parallel shard tp_rank and reads the batch
// rows of dp_index. Tensor parallelism is Megatron's: attention heads (q/k/v rows, o columns in Hugging Face's
// [out, in] layout), the feed-forward's d_ff, the vocabulary of the embeddings and the LM head (padded to a
// multiple of tp) and the relative position bias's heads are split across a CONSECUTIVE group of tp replicas; the
// layer norms are whole on every rank. Each split sum meets its other shards in an all-reduce over that group.
// The data-parallel replicas of one shard form an ORTHOGONAL group (stride tp): the loss's label count and the
// gradients are summed over it. With pp pipeline stages per replica, replica r's stage s sits on IPU r * pp + s
// (Poplar gives each replica consecutive IPUs).
// Dropout: the replicas of one tensor-parallel group must read the same seed, so the sites on whole activations
// drop alike on every rank; a split site (attention probabilities, the feed-forward's hidden layer) adds the rank
// to the seed, so the shards drop independently.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

#include "t5/pipeline_schedule.h"
#include "t5/precision.h"
#include "t5/t5_config.h"

namespace ft5::t5 {

struct ParallelPlan {
    ParallelPlan() = default;
    // One pipeline stage.
    ParallelPlan(std::size_t tensor_parallel, std::size_t data_parallel) : tp(tensor_parallel), dp(data_parallel) {}

    std::size_t tp = 1;  // tensor-parallel ranks (replicas holding one model together)
    std::size_t dp = 1;  // data-parallel groups (each reads its own rows of the batch)
    std::size_t pp = 1;  // pipeline stages: the IPUs of one replica
    // The stage of each encoder and decoder block (empty with one stage). The embeddings sit on stage 0, a stack's
    // relative position bias with its block 0 and its final layer norm with its last block, an untied LM head on
    // the last stage (a tied one is the shared embedding, on stage 0).
    std::vector<std::size_t> encoder_stage, decoder_stage;
    // The order of a step's micro-batches through the stages (the scheduled micro-batches program).
    PipelineOrder order = PipelineOrder::kSequential;
    // Keep only each block's input in the forward pass and recompute the block before its backward pass.
    bool recompute = false;
    // Phased execution: weights and gradients in streaming memory, on chip only for the layer that uses them.
    bool stream_weights = false;
    // The AdamW moments in streaming memory, on chip only for their parameter's update.
    bool stream_optimizer = false;
    // The training state and programs: gradients, AdamW moments, forward-backward, the training step and the
    // update. Without it (a weights-only session, for inference) the graph holds the weights alone.
    bool trains = true;
    // The number formats (precision.h): the plan places and sizes the state, whose bytes they set.
    Precision precision;

    std::size_t replicas() const { return tp * dp; }
    // Throws std::invalid_argument naming the plan field or the config field that does not fit.
    void validate(const T5Config& config) const;
    // The vocabulary rounded up to a multiple of tp (each rank holds paddedVocab / tp rows).
    std::size_t paddedVocab(std::size_t vocab) const { return (vocab + tp - 1) / tp * tp; }

    // The one replica numbering: r = dp_index * tp + tp_rank (tensor-parallel groups are CONSECUTIVE replicas).
    std::size_t replica(std::size_t dp_index, std::size_t tp_rank) const { return dp_index * tp + tp_rank; }
    std::size_t tpRank(std::size_t replica) const { return replica % tp; }
    std::size_t dpIndex(std::size_t replica) const { return replica / tp; }

    std::size_t encoderStage(std::size_t block) const { return pp == 1 ? 0 : encoder_stage.at(block); }
    std::size_t decoderStage(std::size_t block) const { return pp == 1 ? 0 : decoder_stage.at(block); }
    std::size_t lmHeadStage(bool tied) const { return tied ? 0 : pp - 1; }
};

// The replica groups of one replicated graph and the collectives the model runs over them. Every reduction is in
// place; over a group of one replica it adds nothing to the program.
class ReplicaGroups {
public:
    // The graph's replication factor must be plan.replicas().
    ReplicaGroups(poplar::Graph& graph, const ParallelPlan& plan);

    const ParallelPlan& plan() const { return plan_; }
    std::size_t tp() const { return plan_.tp; }

    // Over the tensor-parallel group (the shards of one model).
    void sumOverShards(const poplar::Tensor& t, poplar::program::Sequence& prog, const std::string& name) const;
    void maxOverShards(const poplar::Tensor& t, poplar::program::Sequence& prog, const std::string& name) const;
    // Over the data-parallel group (the replicas holding the same shard).
    void sumOverData(const poplar::Tensor& t, poplar::program::Sequence& prog, const std::string& name) const;
    // Over every replica.
    void maxOverAll(const poplar::Tensor& t, poplar::program::Sequence& prog, const std::string& name) const;

    // INT scalar: tp_rank * rows, the first logical row of this replica's shard of a table split in blocks of rows.
    poplar::Tensor shardOffset(std::size_t rows, poplar::program::Sequence& prog, const std::string& name) const;

private:
    poplar::Graph& graph_;
    ParallelPlan plan_;
    poplar::Tensor replica_index_;  // UNSIGNED_INT scalar, each replica's own index
};

// A token lookup into a vocabulary shard: each id as a row of this replica's shard (0 where another rank owns it)
// and whether this rank owns it.
struct ShardRows {
    poplar::Tensor rows;   // UNSIGNED_INT [n, 1]
    poplar::Tensor owned;  // [n, 1] of the table's type: 1 where this rank holds the id's row, else 0
};

// ids UNSIGNED_INT [n, 1] into a table of `type` whose shards hold shard_rows rows each.
ShardRows shardRows(poplar::Graph& graph, const ReplicaGroups& groups, const poplar::Tensor& ids,
                    std::size_t shard_rows, const poplar::Type& type, poplar::program::Sequence& prog,
                    const std::string& name);

}  // namespace ft5::t5
