#include "t5/t5_program.h"

#include <stdexcept>

#include <popops/Cast.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>

#include "t5/attention.h"

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
    : graph_(graph), config_(config), shape_(shape), groups_(graph, checked(plan, config)), params_(graph, plan.tp) {
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
    encoder_weights_ = addStackParameters(params_, config_, false, *encoder_embedding_);
    decoder_weights_ = addStackParameters(params_, config_, true, *decoder_embedding_);
    encoder_ = std::make_unique<Stack>(graph, config_, encoder_weights_, shape_.batch, shape_.src_len, shape_.src_len,
                                       groups_);
    decoder_ = std::make_unique<Stack>(graph, config_, decoder_weights_, shape_.batch, shape_.tgt_len, shape_.src_len,
                                       groups_);
    if (!lm_weight) lm_weight = &params_.add("lm_head.weight", {v, d}, 0);
    lm_head_ = std::make_unique<LmHead>(*lm_weight, config_.tied, d, groups_);
    const std::size_t shard = lm_weight->weight.dim(0);  // this replica's vocabulary rows

    const std::size_t src = shape_.batch * shape_.src_len, tgt = shape_.batch * shape_.tgt_len;
    auto input = [&](const char* handle, std::size_t n, std::optional<poplar::DataStream>& stream, poplar::Tensor& t) {
        stream.emplace(graph.addHostToDeviceFIFO(handle, poplar::INT, n));
        t = graph.addVariable(poplar::INT, {n}, poplar::VariableMappingMethod::LINEAR, handle);
    };
    input(streams::kInputIds, src, input_ids_in_, input_ids_);
    input(streams::kAttentionMask, src, mask_in_, mask_);
    input(streams::kDecoderInputIds, tgt, decoder_ids_in_, decoder_ids_);
    input(streams::kLabels, tgt, labels_in_, labels_);
    loss_scale_in_.emplace(graph.addHostToDeviceFIFO(streams::kLossScale, poplar::FLOAT, 1));
    loss_scale_ = graph.addVariable(poplar::FLOAT, {1}, poplar::VariableMappingMethod::LINEAR, streams::kLossScale);
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
    adamw_ = std::make_unique<AdamW>(graph, params_, groups_);
    programs_[kOptimizerStep] = adamw_->step();
    programs_[kTrainingStep] = trainingStep();
    if (decode.enabled()) {
        decoding_ = std::make_unique<CachedDecoding>(graph, config_, encoder_weights_, decoder_weights_, *lm_weight,
                                                     decode, groups_);
        programs_[kDecodeBegin] = decoding_->begin();
        programs_[kDecodeStep] = decoding_->step();
    }
}

poplar::program::Sequence T5Program::step(bool with_gradient, bool send_outputs) {
    poplar::program::Sequence prog;
    const CrossEntropy loss = microBatch(prog, with_gradient, true, send_outputs);
    prog.add(poplar::program::Copy(loss.loss.reshape({1}), *loss_out_));
    return prog;
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
    poplar::program::Sequence body;
    const CrossEntropy loss = microBatch(body, true, false, false);
    popops::addInPlace(graph_, loss_sum, loss.total, body, "step/add_loss");
    popops::addInPlace(graph_, count_sum, loss.count, body, "step/add_count");
    prog.add(poplar::program::Repeat(unsigned(shape_.micro_batches), body));

    // the summed loss's gradients over the step's count of labels: the gradient of the step's mean loss
    const poplar::Tensor inverse_count =
        popops::map(graph_, pe::Const(1.0f) / pe::_1, {count_sum}, prog, "step/inverse_count");
    for (const auto& p : params_.all()) popops::mulInPlace(graph_, p.gradient, inverse_count, prog, p.name + "/mean");
    const poplar::Tensor mean_loss = popops::div(graph_, loss_sum, count_sum, prog, "step/mean_loss");

    // a NaN or an infinity anywhere reaches its gradient's max or min (reductions propagate NaN)
    std::vector<poplar::Tensor> extremes{mean_loss.reshape({1})};
    for (const auto& p : params_.all())
        for (const auto op : {popops::Operation::MAX, popops::Operation::MIN})
            extremes.push_back(
                popops::reduce(graph_, p.gradient.flatten(), poplar::FLOAT, {0}, op, prog, p.name + "/extreme")
                    .reshape({1}));
    const poplar::Tensor non_finite = popops::reduce(
        graph_,
        popops::map(graph_, pe::Cast(pe::Not(pe::IsFinite(pe::_1)), poplar::FLOAT), {poplar::concat(extremes)}, prog,
                    "step/non_finite_values"),
        poplar::FLOAT, {0}, popops::Operation::MAX, prog, "step/non_finite");
    prog.add(poplar::program::Copy(poplar::concat(mean_loss.reshape({1}), non_finite.reshape({1})),
                                   *training_result_out_));
    return prog;
}

CrossEntropy T5Program::microBatch(poplar::program::Sequence& prog, bool with_gradient, bool mean_gradient,
                                   bool send_outputs) {
    using poplar::program::Copy;
    prog.add(Copy(*input_ids_in_, input_ids_));
    prog.add(Copy(*mask_in_, mask_));
    prog.add(Copy(*decoder_ids_in_, decoder_ids_));
    prog.add(Copy(*labels_in_, labels_));
    Dropout* dropout = with_gradient ? dropout_.get() : nullptr;
    if (dropout) prog.add(Copy(*seed_in_, dropout_seed_));

    const std::size_t b = shape_.batch;
    auto row_ids = [&](const poplar::Tensor& ids, const char* name) {
        return popops::cast(graph_, ids, poplar::UNSIGNED_INT, prog, name).expand({1});
    };
    const poplar::Tensor mask_bias = maskBias(graph_, mask_, b, shape_.src_len, prog, "mask_bias");
    const poplar::Tensor encoded =
        encoder_->forward(row_ids(input_ids_, "input_ids_u32"), mask_bias, poplar::Tensor(), prog, dropout);
    const poplar::Tensor decoded =
        decoder_->forward(row_ids(decoder_ids_, "decoder_ids_u32"), mask_bias, encoded, prog, dropout);
    const poplar::Tensor logits = lm_head_->forward(graph_, decoded, prog);
    const CrossEntropy loss =
        crossEntropy(graph_, logits, labels_, with_gradient, prog, mean_gradient, groups_, config_.vocab);
    if (send_outputs) {
        prog.add(Copy(logits, *logits_out_));
        prog.add(Copy(encoded, *encoder_out_));
    }
    if (with_gradient) {
        // the loss scale multiplies every gradient (fp16 training keeps small gradients representable)
        prog.add(Copy(*loss_scale_in_, loss_scale_));
        popops::mulInPlace(graph_, loss.d_logits, loss_scale_.reshape({1, 1}), prog, "loss/scale");
        const poplar::Tensor d_encoded = decoder_->backward(lm_head_->backward(graph_, loss.d_logits, prog), prog);
        encoder_->backward(d_encoded, prog);
    }
    return loss;
}

}  // namespace ft5::t5
