// Where every part of the model runs: tensor-parallel ranks, pipeline stages and replicas, numbered as in
// ft5_plan_desc (ipu = (replica * tp + tp_rank) * pp + stage), and the stage of every layer.
#pragma once

#include <cstdint>
#include <vector>

#include "ft5/ft5.h"
#include "session/model_config.h"
#include "t5/pipeline_schedule.h"

namespace ft5::session {

struct Placement {
    uint32_t tp = 1;
    uint32_t pp = 1;
    uint32_t replicas = 1;
    // Where AdamW's moments live: on chip beside the weights, or in each IPU's streaming memory (streamed
    // through on-chip memory one parameter at a time by the optimizer step).
    ft5_memory_location optimizer_location = FT5_MEMORY_ON_CHIP;
    // Where weights and gradients live: on chip, or in streaming memory, staged on chip one layer at a time
    // (phased execution; the moments then stream too).
    ft5_memory_location weights_location = FT5_MEMORY_ON_CHIP;
    // Keep only each block's input in the forward pass and recompute its activations in the backward pass.
    bool recompute = false;
    // Weights only: no gradients or moments are allocated (forward and decoding only).
    bool weights_only = false;
    // How a step's micro-batches go through the stages (with more than one stage and weights on chip).
    ft5_pipeline_schedule schedule = FT5_SCHEDULE_GPIPE;
    std::vector<uint32_t> encoder_stage;  // stage of encoder block i
    std::vector<uint32_t> decoder_stage;  // stage of decoder block i

    // Validates the plan against the model and the device (throws FT5_ERR_INVALID_ARGUMENT naming the field).
    static Placement from_plan(const ft5_plan_desc& plan, const ModelConfig& config, uint32_t num_ipus);

    // Poplar's numbering: Poplar replica replica * tp + rank (tensor-parallel groups consecutive) holds pp
    // consecutive IPUs, one per stage.
    uint32_t ipu(uint32_t replica, uint32_t stage, uint32_t rank) const noexcept {
        return (replica * tp + rank) * pp + stage;
    }
    uint32_t last_stage() const noexcept { return pp - 1; }
    uint32_t ipus_needed() const noexcept { return tp * pp * replicas; }
};

// The order a plan runs a step's micro-batches in: pipelined only with several stages and weights on chip.
t5::PipelineOrder pipeline_order(ft5_pipeline_schedule schedule, uint32_t stages, bool phased) noexcept;

}  // namespace ft5::session
