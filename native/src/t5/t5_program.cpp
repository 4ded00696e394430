#include "t5/t5_program.h"

#include <stdexcept>

#include <popops/Cast.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>

#include "t5/attention.h"
#include "t5/pipeline_schedule.h"

namespace ft5::t5 {

namespace {

// The config and plan checked before the graph gets any of their variables.
const ParallelPlan& checked(const ParallelPlan& plan, const T5Config& config) {
    config.validate();
    plan.validate(config);
    return plan;
}

}  // namespace

T5Program::T5Program(poplar::Graph& graph, const T5Config& config, const BatchShape& shape, const DecodeShape& decode,
                     const ParallelPlan& plan)
    : graph_(graph), config_(config), shape_(shape), groups_(graph, checked(plan, config)), stages_(graph, plan.pp),
      params_(stages_, plan.tp, plan.stream_weights) {
    shape_.validate();
    const std::size_t v = config_.vocab, d = config_.d_model;
    const Parameter* lm_weight = nullptr;
    // the vocabulary rows split across the tensor-parallel ranks
    if (config_.embeddings == EmbeddingLayout::Shared) {
        encoder_embedding_ = decoder_embedding_ = &params_.add("shared.weight", {v, d}, 0);
        lm_weight = config_.tied ? encoder_embedding_ : nullptr;
    } else {
        encoder_embedding_ = &params_.add("encoder.embed_tokens.weight", {v, d}, 0);
        decoder_embedding_ = &params_.add("decoder.embed_tokens.weight", {v, d}, 0);
    }
    encoder_weights_ = addStackParameters(params_, config_, false, *encoder_embedding_, plan);
    decoder_weights_ = addStackParameters(params_, config_, true, *decoder_embedding_, plan);
    encoder_ = std::make_unique<Stack>(stages_, config_, encoder_weights_, shape_.batch, shape_.src_len,
                                       shape_.src_len, groups_);
    decoder_ = std::make_unique<Stack>(stages_, config_, decoder_weights_, shape_.batch, shape_.tgt_len,
                                       shape_.src_len, groups_);
    if (!lm_weight) lm_weight = &params_.add("lm_head.weight", {v, d}, 0, plan.lmHeadStage(false));
    head_stage_ = lm_weight->stage;
    lm_head_ = std::make_unique<LmHead>(*lm_weight, config_.tied, d, groups_);
    const std::size_t shard = lm_weight->weight.dim(0);  // this replica's vocabulary rows

    const std::size_t src = shape_.batch * shape_.src_len, tgt = shape_.batch * shape_.tgt_len;
    // the inputs land on the stage that reads them: the tokens on the embeddings', the labels on the LM head's
    auto input = [&](const char* handle, std::size_t n, std::optional<poplar::DataStream>& stream, poplar::Tensor& t,
                     std::size_t stage) {
        stream.emplace(graph.addHostToDeviceFIFO(handle, poplar::INT, n));
        t = stages_.graph(stage).addVariable(poplar::INT, {n}, poplar::VariableMappingMethod::LINEAR, handle);
    };
    input(streams::kInputIds, src, input_ids_in_, input_ids_, 0);
    input(streams::kAttentionMask, src, mask_in_, mask_, 0);
    input(streams::kDecoderInputIds, tgt, decoder_ids_in_, decoder_ids_, 0);
    input(streams::kLabels, tgt, labels_in_, labels_, head_stage_);
    loss_scale_in_.emplace(graph.addHostToDeviceFIFO(streams::kLossScale, poplar::FLOAT, 1));
    loss_scale_ = stages_.graph(head_stage_).addVariable(poplar::FLOAT, {1}, poplar::VariableMappingMethod::LINEAR,
                                                         streams::kLossScale);
    if (config_.dropout > 0.0f) {
        seed_in_.emplace(graph.addHostToDeviceFIFO(streams::kDropoutSeed, poplar::UNSIGNED_INT, 2));
        dropout_seed_ = graph.addVariable(poplar::UNSIGNED_INT, {2}, poplar::VariableMappingMethod::LINEAR,
                                          streams::kDropoutSeed);
        dropout_ = std::make_unique<Dropout>(graph, config_.dropout, dropout_seed_, groups_);
    }
    loss_out_.emplace(graph.addDeviceToHostFIFO(streams::kLoss, poplar::FLOAT, 1));
    logits_out_.emplace(graph.addDeviceToHostFIFO(streams::kLogits, poplar::FLOAT, tgt * shard));
    encoder_out_.emplace(graph.addDeviceToHostFIFO(streams::kEncoderOutput, poplar::FLOAT, src * d));
    training_result_out_.emplace(graph.addDeviceToHostFIFO(streams::kTrainingResult, poplar::FLOAT, 2));

    programs_.assign(kProgramCount, poplar::program::Sequence());
    programs_[kZeroGradients] = params_.zeroGradients();
    programs_[kForward] = step(false, true);
    programs_[kForwardBackward] = step(true, false);
    adamw_ = std::make_unique<AdamW>(graph, params_, groups_, plan.stream_optimizer);
    programs_[kOptimizerStep] = adamw_->step();
    programs_[kTrainingStep] = trainingStep();
    if (shape_.micro_batches > 1) programs_[kScheduledMicroBatches] = scheduledMicroBatches();
    if (decode.enabled()) {
        decoding_ = std::make_unique<CachedDecoding>(graph, stages_, config_, encoder_weights_, decoder_weights_, *lm_weight,
                                                     decode, groups_);
        programs_[kDecodeBegin] = decoding_->begin();
        programs_[kDecodeStep] = decoding_->step();
    }
}

bool T5Program::inStreamingMemory(const std::string& handle) const {
    return AdamW::isMomentHandle(handle) ? adamw_->streamsMoments() : plan().stream_weights;
}

poplar::program::Sequence T5Program::step(bool with_gradient, bool send_outputs) {
    SegmentChain chain;
    microBatch(chain, chain, PassKind{with_gradient, true, true, send_outputs}, with_gradient ? dropout_.get() : nullptr);
    return chain.all();
}

poplar::program::Sequence T5Program::trainingStep() {
    namespace pe = popops::expr;
    poplar::program::Sequence prog;
    prog.add(params_.zeroGradients());
    auto scalar = [&](const char* name) {
        const poplar::Tensor t = graph_.addVariable(poplar::FLOAT, {}, poplar::VariableMappingMethod::LINEAR, name);
        popops::zero(graph_, t, prog, std::string(name) + "/zero");
        return t;
    };
    const poplar::Tensor loss_sum = scalar("step/loss_sum"), count_sum = scalar("step/count_sum");
    SegmentChain chain;
    const CrossEntropy loss = microBatch(chain, chain, PassKind{true, false, false, false}, dropout_.get());
    poplar::program::Sequence body = chain.all();
    popops::addInPlace(graph_, loss_sum, loss.total, body, "step/add_loss");
    popops::addInPlace(graph_, count_sum, loss.count, body, "step/add_count");
    prog.add(poplar::program::Repeat(unsigned(shape_.micro_batches), body));

    // the summed loss's gradients over the step's count of labels: the gradient of the step's mean loss
    const poplar::Tensor inverse_count =
        popops::map(graph_, pe::Const(1.0f) / pe::_1, {count_sum}, prog, "step/inverse_count");
    const poplar::Tensor mean_loss = popops::div(graph_, loss_sum, count_sum, prog, "step/mean_loss");
    // a NaN or an infinity anywhere reaches its gradient's max or min (reductions propagate NaN)
    std::vector<poplar::Tensor> extremes{mean_loss.reshape({1})};
    for (const auto& p : params_.all()) {
        fetchGradient(p, prog);
        popops::mulInPlace(graph_, p.gradient, inverse_count, prog, p.name + "/mean");
        for (const auto op : {popops::Operation::MAX, popops::Operation::MIN})
            extremes.push_back(
                popops::reduce(graph_, p.gradient.flatten(), poplar::FLOAT, {0}, op, prog, p.name + "/extreme")
                    .reshape({1}));
        storeGradient(p, prog);
    }
    const poplar::Tensor non_finite = popops::reduce(
        graph_,
        popops::map(graph_, pe::Cast(pe::Not(pe::IsFinite(pe::_1)), poplar::FLOAT), {poplar::concat(extremes)}, prog,
                    "step/non_finite_values"),
        poplar::FLOAT, {0}, popops::Operation::MAX, prog, "step/non_finite");
    prog.add(poplar::program::Copy(poplar::concat(mean_loss.reshape({1}), non_finite.reshape({1})),
                                   *training_result_out_));
    return prog;
}

poplar::program::Sequence T5Program::scheduledMicroBatches() {
    const std::size_t m = shape_.micro_batches;
    std::vector<SegmentChain> forward(m), backward(m);
    for (std::size_t k = 0; k < m; ++k) {
        Dropout* dropout = nullptr;
        if (config_.dropout > 0.0f) {
            // each micro-batch keeps its own seed until its backward pass regenerates the masks
            const std::string name = "scheduled/dropout_seed" + std::to_string(k);
            scheduled_seeds_.push_back(graph_.addVariable(poplar::UNSIGNED_INT, {2},
                                                          poplar::VariableMappingMethod::LINEAR, name));
            scheduled_dropout_.push_back(
                std::make_unique<Dropout>(graph_, config_.dropout, scheduled_seeds_.back(), groups_));
            dropout = scheduled_dropout_.back().get();
            forward[k].on(0).add(poplar::program::Copy(*seed_in_, scheduled_seeds_.back()));
        }
        microBatch(forward[k], backward[k], PassKind{true, true, true, false}, dropout);
    }
    poplar::program::Sequence prog;
    for (const PipelineTask& task : pipeline_tasks(plan().order, forward[0].stages(), backward[0].stages(),
                                                   std::uint32_t(stages_.count()), std::uint32_t(m))) {
        const SegmentChain& chain = task.backward ? backward[task.micro_batch] : forward[task.micro_batch];
        prog.add(chain.segment(task.segment));
    }
    return prog;
}

CrossEntropy T5Program::microBatch(SegmentChain& forward, SegmentChain& backward, const PassKind& kind,
                                   Dropout* dropout) {
    using poplar::program::Copy;
    {
        poplar::program::Sequence& prog = forward.on(0);
        prog.add(Copy(*input_ids_in_, input_ids_));
        prog.add(Copy(*mask_in_, mask_));
        prog.add(Copy(*decoder_ids_in_, decoder_ids_));
        if (dropout == dropout_.get() && dropout) prog.add(Copy(*seed_in_, dropout_seed_));
    }
    const std::size_t b = shape_.batch;
    poplar::Graph& first = stages_.graph(0);
    auto row_ids = [&](const poplar::Tensor& ids, const char* name) {
        return popops::cast(first, ids, poplar::UNSIGNED_INT, forward.on(0), name).expand({1});
    };
    const Staged mask_bias{maskBias(first, mask_, b, shape_.src_len, forward.on(0), "mask_bias"), 0};
    // both stacks' tokens are looked up first, on the embeddings' stage, so a pass crosses the stages in order
    const Staged encoder_in = encoder_->embed(row_ids(input_ids_, "input_ids_u32"), forward);
    const Staged decoder_in = decoder_->embed(row_ids(decoder_ids_, "decoder_ids_u32"), forward);
    const Staged encoded = encoder_->forward(encoder_in, mask_bias, Staged{}, forward, dropout);
    const Staged decoded = decoder_->forward(decoder_in, mask_bias, encoded, forward, dropout);

    poplar::Graph& head = stages_.graph(head_stage_);
    const poplar::Tensor y = stages_.to(decoded, head_stage_, forward, "lm_head/input_received").tensor;
    poplar::program::Sequence& prog = forward.on(head_stage_);
    prog.add(Copy(*labels_in_, labels_));
    const poplar::Tensor logits = lm_head_->forward(head, y, prog);
    const CrossEntropy loss =
        crossEntropy(head, logits, labels_, kind.with_gradient, prog, kind.mean_gradient, groups_, config_.vocab);
    if (kind.send_loss) prog.add(Copy(loss.loss.reshape({1}), *loss_out_));
    if (kind.send_outputs) {
        prog.add(Copy(logits, *logits_out_));
        forward.on(encoded.stage).add(Copy(encoded.tensor, *encoder_out_));
    }
    if (kind.with_gradient) {
        // the loss scale multiplies every gradient (fp16 training keeps small gradients representable)
        poplar::program::Sequence& start = backward.on(head_stage_);
        start.add(Copy(*loss_scale_in_, loss_scale_));
        popops::mulInPlace(head, loss.d_logits, loss_scale_.reshape({1, 1}), start, "loss/scale");
        const Staged d_decoded{lm_head_->backward(head, loss.d_logits, start), head_stage_};
        const Stack::Gradients decoder = decoder_->backward(d_decoded, backward);
        const Stack::Gradients encoder = encoder_->backward(decoder.encoder_output, backward);
        decoder_->embedBackward(decoder.embedded, backward);
        encoder_->embedBackward(encoder.embedded, backward);
    }
    return loss;
}

}  // namespace ft5::t5
