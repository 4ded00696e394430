#include "session/placement.h"

#include <string>

#include "abi/error.h"

namespace ft5::session {

namespace {

// Stage of each layer from per-stage counts; the counts must add up to the layer count.
std::vector<uint32_t> stages_from_counts(const uint32_t* counts, uint32_t pp, int64_t layers, const char* field,
                                         const char* model_field) {
    std::vector<uint32_t> out;
    uint64_t total = 0;
    for (uint32_t s = 0; s < pp; ++s) total += counts[s];
    if (int64_t(total) != layers) {
        invalid_argument(std::string("plan->") + field + " adds up to " + std::to_string(total) + " layers over " +
                         std::to_string(pp) + " stages; expected " + model_field + " = " + std::to_string(layers));
    }
    for (uint32_t s = 0; s < pp; ++s)
        for (uint32_t i = 0; i < counts[s]; ++i) out.push_back(s);
    return out;
}

}  // namespace

Placement Placement::from_plan(const ft5_plan_desc& p, const ModelConfig& c, uint32_t num_ipus) {
    Placement pl;
    auto check_degree = [](uint32_t v, const char* field) {
        if (v < 1 || v > 64) {
            invalid_argument(std::string("plan->") + field + " is " + std::to_string(v) + "; expected 1..64");
        }
    };
    check_degree(p.tensor_parallel, "tensor_parallel");
    check_degree(p.pipeline_stages, "pipeline_stages");
    check_degree(p.replicas, "replicas");
    pl.tp = p.tensor_parallel;
    pl.pp = p.pipeline_stages;
    pl.replicas = p.replicas;
    pl.optimizer_location = p.optimizer_location;
    pl.weights_location = p.weights_location;
    pl.recompute = p.recompute == 1;
    pl.weights_only = p.weights_only == 1;
    pl.schedule = p.schedule;
    if (c.heads % pl.tp != 0) {
        invalid_argument("plan->tensor_parallel is " + std::to_string(pl.tp) + "; it must divide num_heads = " +
                         std::to_string(c.heads));
    }
    if (c.d_ff % pl.tp != 0) {
        invalid_argument("plan->tensor_parallel is " + std::to_string(pl.tp) + "; it must divide d_ff = " +
                         std::to_string(c.d_ff));
    }
    const int64_t layers = c.encoder_layers + c.decoder_layers;
    if (int64_t(pl.pp) > layers) {
        invalid_argument("plan->pipeline_stages is " + std::to_string(pl.pp) + "; the model has only " +
                         std::to_string(layers) + " layers (num_layers + num_decoder_layers)");
    }
    if (uint64_t(pl.tp) * pl.pp * pl.replicas > num_ipus) {
        invalid_argument("the plan needs tensor_parallel x pipeline_stages x replicas = " +
                         std::to_string(uint64_t(pl.tp) * pl.pp * pl.replicas) + " IPUs; the device has " +
                         std::to_string(num_ipus));
    }
    if ((p.encoder_layers_per_stage == nullptr) != (p.decoder_layers_per_stage == nullptr)) {
        invalid_argument("plan->encoder_layers_per_stage and plan->decoder_layers_per_stage must both be set or "
                         "both be NULL");
    }
    if (p.encoder_layers_per_stage != nullptr) {
        pl.encoder_stage = stages_from_counts(p.encoder_layers_per_stage, pl.pp, c.encoder_layers,
                                              "encoder_layers_per_stage", "num_layers");
        pl.decoder_stage = stages_from_counts(p.decoder_layers_per_stage, pl.pp, c.decoder_layers,
                                              "decoder_layers_per_stage", "num_decoder_layers");
    } else {
        // Even split of the layer sequence encoder 0.., decoder 0.. into pp contiguous ranges.
        for (int64_t i = 0; i < layers; ++i) {
            const auto stage = uint32_t(i * int64_t(pl.pp) / layers);
            (i < c.encoder_layers ? pl.encoder_stage : pl.decoder_stage).push_back(stage);
        }
    }
    return pl;
}

t5::PipelineOrder pipeline_order(ft5_pipeline_schedule schedule, uint32_t stages, bool phased) noexcept {
    if (stages == 1 || phased) return t5::PipelineOrder::kSequential;
    return schedule == FT5_SCHEDULE_1F1B ? t5::PipelineOrder::kOneFOneB : t5::PipelineOrder::kGPipe;
}

}  // namespace ft5::session
