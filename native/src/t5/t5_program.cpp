#include "t5/t5_program.h"

#include <stdexcept>

#include <poplar/CSRFunctions.hpp>
#include <popops/Cast.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>

#include "t5/attention.h"
#include "t5/pipeline_schedule.h"
#include "t5/precision.h"

namespace ft5::t5 {

namespace {

// The config and plan checked before the graph gets any of their variables.
const ParallelPlan& checked(const ParallelPlan& plan, const T5Config& config) {
    config.validate();
    plan.validate(config);
    return plan;
}

}  // namespace

// A program set's streams and per-shape pieces: its stacks (their activations), decoding, dropout and inputs.
struct T5Program::ProgramSet {
    ProgramShape shape;
    std::size_t index = 0;
    std::unique_ptr<Stack> encoder, decoder;
    std::unique_ptr<CachedDecoding> decoding;
    std::unique_ptr<Dropout> dropout;
    // the scheduled micro-batches' dropout: each its own seed, read when its forward pass starts
    std::vector<std::unique_ptr<Dropout>> scheduled_dropout;
    std::vector<poplar::Tensor> scheduled_seeds;
    // DataStream has no default constructor in the SDK: set while the graph is built.
    std::optional<poplar::DataStream> input_ids_in, mask_in, decoder_ids_in, labels_in, loss_scale_in, seed_in;
    std::optional<poplar::DataStream> loss_out, logits_out, encoder_out, training_result_out, ranges_out;
    std::unique_ptr<ActivationRanges> ranges;  // the forward program's, when the plan asks for them
    poplar::Tensor input_ids, mask, decoder_ids, labels, loss_scale, dropout_seed;
};

T5Program::T5Program(poplar::Graph& graph, const T5Config& config, const BatchShape& shape, const DecodeShape& decode,
                     const ParallelPlan& plan)
    : T5Program(graph, config, std::vector<ProgramShape>{ProgramShape{shape, config.dropout > 0.0f, decode}}, plan) {}

T5Program::T5Program(poplar::Graph& graph, const T5Config& config, const std::vector<ProgramShape>& sets,
                     const ParallelPlan& plan)
    : graph_(graph), config_(config), groups_(graph, checked(plan, config)), stages_(graph, plan.pp),
      params_(stages_, plan.tp, plan.stream_weights, plan.trains, plan.precision.type()) {
    if (sets.empty()) throw std::invalid_argument("program sets: at least one shape is needed");
    for (const ProgramShape& s : sets) {
        s.batch.validate();
        if (s.decode.enabled()) s.decode.validate();
    }
    const std::size_t v = config_.vocab, d = config_.d_model;
    // the vocabulary rows split across the tensor-parallel ranks
    if (config_.embeddings == EmbeddingLayout::Shared) {
        encoder_embedding_ = decoder_embedding_ = &params_.add("shared.weight", {v, d}, 0);
        lm_weight_ = config_.tied ? encoder_embedding_ : nullptr;
    } else {
        encoder_embedding_ = &params_.add("encoder.embed_tokens.weight", {v, d}, 0);
        decoder_embedding_ = &params_.add("decoder.embed_tokens.weight", {v, d}, 0);
    }
    encoder_weights_ = addStackParameters(params_, config_, false, *encoder_embedding_, plan);
    decoder_weights_ = addStackParameters(params_, config_, true, *decoder_embedding_, plan);
    if (!lm_weight_) lm_weight_ = &params_.add("lm_head.weight", {v, d}, 0, plan.lmHeadStage(false));
    head_stage_ = lm_weight_->stage;
    lm_head_ = std::make_unique<LmHead>(*lm_weight_, config_.tied, d, groups_);
    if (plan.trains) {
        zero_gradients_ = params_.zeroGradients();
        adamw_ = std::make_unique<AdamW>(graph, params_, groups_, plan.stream_optimizer,
                                         plan.precision.stochastic_rounding, plan.precision.master_weights);
        optimizer_step_ = adamw_->step();
    }
    programs_.reserve(sets.size() * kProgramCount);
    for (const ProgramShape& s : sets) addProgramSet(s);
    if (plan.precision.detect_overflow) {
        // each program starts by arming the floating-point exceptions (the optimizer's rounding keeps its own esr)
        for (std::size_t i = 0; i < programs_.size(); ++i) {
            poplar::program::Sequence armed;
            poplar::setFloatingPointBehaviour(graph_, armed, poplar::FloatingPointBehaviour(true, false, true, false, false),
                                              "detect_overflow");
            armed.add(programs_[i]);
            programs_[i] = armed;
        }
    }
}

T5Program::~T5Program() = default;

void T5Program::addProgramSet(const ProgramShape& shape) {
    auto owned = std::make_unique<ProgramSet>();
    ProgramSet& set = *owned;
    set.shape = shape;
    set.index = sets_.size();
    sets_.push_back(std::move(owned));
    const BatchShape& b = shape.batch;
    set.encoder = std::make_unique<Stack>(stages_, config_, encoder_weights_, b.batch, b.src_len, b.src_len, groups_);
    set.decoder = std::make_unique<Stack>(stages_, config_, decoder_weights_, b.batch, b.tgt_len, b.src_len, groups_);
    const std::size_t shard = lm_weight_->weight.dim(0);  // this replica's vocabulary rows
    const std::size_t src = b.batch * b.src_len, tgt = b.batch * b.tgt_len;
    auto handle = [&](const char* stream) { return streamHandle(stream, set.index); };
    // the inputs land on the stage that reads them: the tokens on the embeddings', the labels on the LM head's
    auto input = [&](const char* stream, std::size_t n, std::optional<poplar::DataStream>& in, poplar::Tensor& t,
                     std::size_t stage) {
        in.emplace(graph_.addHostToDeviceFIFO(handle(stream), poplar::INT, n));
        t = stages_.graph(stage).addVariable(poplar::INT, {n}, poplar::VariableMappingMethod::LINEAR, handle(stream));
    };
    input(streams::kInputIds, src, set.input_ids_in, set.input_ids, 0);
    input(streams::kAttentionMask, src, set.mask_in, set.mask, 0);
    input(streams::kDecoderInputIds, tgt, set.decoder_ids_in, set.decoder_ids, 0);
    input(streams::kLabels, tgt, set.labels_in, set.labels, head_stage_);
    set.loss_scale_in.emplace(graph_.addHostToDeviceFIFO(handle(streams::kLossScale), poplar::FLOAT, 1));
    set.loss_scale = stages_.graph(head_stage_).addVariable(poplar::FLOAT, {1}, poplar::VariableMappingMethod::LINEAR,
                                                            handle(streams::kLossScale));
    if (shape.dropout && config_.dropout > 0.0f) {
        set.seed_in.emplace(graph_.addHostToDeviceFIFO(handle(streams::kDropoutSeed), poplar::UNSIGNED_INT, 2));
        set.dropout_seed = graph_.addVariable(poplar::UNSIGNED_INT, {2}, poplar::VariableMappingMethod::LINEAR,
                                              handle(streams::kDropoutSeed));
        set.dropout = std::make_unique<Dropout>(graph_, config_.dropout, set.dropout_seed, groups_);
    }
    set.loss_out.emplace(graph_.addDeviceToHostFIFO(handle(streams::kLoss), poplar::FLOAT, 1));
    set.logits_out.emplace(graph_.addDeviceToHostFIFO(handle(streams::kLogits), poplar::FLOAT, tgt * shard));
    set.encoder_out.emplace(graph_.addDeviceToHostFIFO(handle(streams::kEncoderOutput), poplar::FLOAT, src * config_.d_model));
    set.training_result_out.emplace(graph_.addDeviceToHostFIFO(handle(streams::kTrainingResult), poplar::FLOAT, 2));

    std::vector<poplar::program::Program> programs(kProgramCount, poplar::program::Sequence());
    if (set.index == 0) {
        programs[kZeroGradients] = zero_gradients_;
        programs[kOptimizerStep] = optimizer_step_;
    }
    if (plan().precision.activation_ranges) set.ranges = std::make_unique<ActivationRanges>(groups_);
    programs[kForward] = step(set, false, true);
    if (plan().trains) {
        programs[kForwardBackward] = step(set, true, false);
        programs[kTrainingStep] = trainingStep(set);
        if (b.micro_batches > 1) programs[kScheduledMicroBatches] = scheduledMicroBatches(set);
    }
    if (shape.decode.enabled()) {
        set.decoding = std::make_unique<CachedDecoding>(graph_, stages_, config_, encoder_weights_, decoder_weights_,
                                                        *lm_weight_, shape.decode, groups_, set.index);
        programs[kDecodeBegin] = set.decoding->begin();
        programs[kDecodeStep] = set.decoding->step();
    }
    programs_.insert(programs_.end(), programs.begin(), programs.end());
}

unsigned T5Program::programIndex(std::size_t set, Index index) const {
    if (set >= sets_.size())
        throw std::out_of_range("program set " + std::to_string(set) + " of " + std::to_string(sets_.size()));
    if (index == kZeroGradients || index == kOptimizerStep) return unsigned(index);
    return unsigned(set * kProgramCount + index);
}

const BatchShape& T5Program::shape(std::size_t set) const { return sets_.at(set)->shape.batch; }
const DecodeShape& T5Program::decodeShape(std::size_t set) const { return sets_.at(set)->shape.decode; }
const Dropout* T5Program::dropout(std::size_t set) const { return sets_.at(set)->dropout.get(); }

const std::vector<std::string>& T5Program::activationSites(std::size_t set) const {
    static const std::vector<std::string> none;
    const auto& ranges = sets_.at(set)->ranges;
    return ranges ? ranges->sites() : none;
}

bool T5Program::inStreamingMemory(const std::string& handle) const {
    if (AdamW::isMomentHandle(handle)) return adamw_ && adamw_->streamsMoments();
    return plan().stream_weights;
}

poplar::Type T5Program::stateType(const std::string& handle) const {
    return handle.rfind(Parameters::weightHandle(""), 0) == 0 ? params_.type() : poplar::FLOAT;
}

poplar::program::Sequence T5Program::step(ProgramSet& set, bool with_gradient, bool send_outputs) {
    SegmentChain chain;
    microBatch(set, chain, chain, PassKind{with_gradient, true, true, send_outputs, !with_gradient && set.ranges},
               with_gradient ? set.dropout.get() : nullptr);
    return chain.all();
}

poplar::program::Sequence T5Program::trainingStep(ProgramSet& set) {
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
    const CrossEntropy loss = microBatch(set, chain, chain, PassKind{true, false, false, false}, set.dropout.get());
    poplar::program::Sequence body = chain.all();
    popops::addInPlace(graph_, loss_sum, loss.total, body, "step/add_loss");
    popops::addInPlace(graph_, count_sum, loss.count, body, "step/add_count");
    prog.add(poplar::program::Repeat(unsigned(set.shape.batch.micro_batches), body));

    // the summed loss's gradients over the step's count of labels: the gradient of the step's mean loss
    const poplar::Tensor inverse_count =
        popops::map(graph_, pe::Const(1.0f) / pe::_1, {count_sum}, prog, "step/inverse_count");
    const poplar::Tensor mean_loss = popops::div(graph_, loss_sum, count_sum, prog, "step/mean_loss");
    // a NaN or an infinity anywhere reaches its gradient's max or min (reductions propagate NaN)
    std::vector<poplar::Tensor> extremes{mean_loss.reshape({1})};
    for (const auto& p : params_.all()) {
        fetchGradient(p, prog);
        popops::mapInPlace(graph_, pe::Cast(pe::Cast(pe::_1, poplar::FLOAT) * pe::_2, p.gradient.elementType()),
                           {p.gradient, inverse_count}, prog, p.name + "/mean");
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
                                   *set.training_result_out));
    return prog;
}

poplar::program::Sequence T5Program::scheduledMicroBatches(ProgramSet& set) {
    const std::size_t m = set.shape.batch.micro_batches;
    std::vector<SegmentChain> forward(m), backward(m);
    for (std::size_t k = 0; k < m; ++k) {
        Dropout* dropout = nullptr;
        if (set.dropout) {
            // each micro-batch keeps its own seed until its backward pass regenerates the masks
            const std::string name = "scheduled/dropout_seed" + std::to_string(k);
            set.scheduled_seeds.push_back(graph_.addVariable(poplar::UNSIGNED_INT, {2},
                                                             poplar::VariableMappingMethod::LINEAR, name));
            set.scheduled_dropout.push_back(
                std::make_unique<Dropout>(graph_, config_.dropout, set.scheduled_seeds.back(), groups_));
            dropout = set.scheduled_dropout.back().get();
            forward[k].on(0).add(poplar::program::Copy(*set.seed_in, set.scheduled_seeds.back()));
        }
        microBatch(set, forward[k], backward[k], PassKind{true, true, true, false}, dropout);
    }
    poplar::program::Sequence prog;
    for (const PipelineTask& task : pipeline_tasks(plan().order, forward[0].stages(), backward[0].stages(),
                                                   std::uint32_t(stages_.count()), std::uint32_t(m))) {
        const SegmentChain& chain = task.backward ? backward[task.micro_batch] : forward[task.micro_batch];
        prog.add(chain.segment(task.segment));
    }
    return prog;
}

CrossEntropy T5Program::microBatch(ProgramSet& set, SegmentChain& forward, SegmentChain& backward,
                                   const PassKind& kind, Dropout* dropout) {
    using poplar::program::Copy;
    {
        poplar::program::Sequence& prog = forward.on(0);
        prog.add(Copy(*set.input_ids_in, set.input_ids));
        prog.add(Copy(*set.mask_in, set.mask));
        prog.add(Copy(*set.decoder_ids_in, set.decoder_ids));
        if (dropout == set.dropout.get() && dropout) prog.add(Copy(*set.seed_in, set.dropout_seed));
    }
    const std::size_t b = set.shape.batch.batch;
    poplar::Graph& first = stages_.graph(0);
    auto row_ids = [&](const poplar::Tensor& ids, const char* name) {
        return popops::cast(first, ids, poplar::UNSIGNED_INT, forward.on(0), name).expand({1});
    };
    const Staged mask_bias{
        maskBias(first, set.mask, b, set.shape.batch.src_len, params_.type(), plan().precision.maskMinimum(), forward.on(0),
                 "mask_bias"),
        0};
    // both stacks' tokens are looked up first, on the embeddings' stage, so a pass crosses the stages in order
    const Staged encoder_in = set.encoder->embed(row_ids(set.input_ids, "input_ids_u32"), forward);
    const Staged decoder_in = set.decoder->embed(row_ids(set.decoder_ids, "decoder_ids_u32"), forward);
    ActivationRanges* ranges = kind.send_ranges ? set.ranges.get() : nullptr;
    const Staged encoded = set.encoder->forward(encoder_in, mask_bias, Staged{}, forward, dropout, ranges);
    const Staged decoded = set.decoder->forward(decoder_in, mask_bias, encoded, forward, dropout, ranges);

    poplar::Graph& head = stages_.graph(head_stage_);
    const poplar::Tensor y = stages_.to(decoded, head_stage_, forward, "lm_head/input_received").tensor;
    poplar::program::Sequence& prog = forward.on(head_stage_);
    prog.add(Copy(*set.labels_in, set.labels));
    // the loss, its gradient and the host's logits are FLOAT whatever the activations' type
    const poplar::Tensor logits = asFloat(head, lm_head_->forward(head, y, prog), prog, "lm_head/logits_float");
    const CrossEntropy loss =
        crossEntropy(head, logits, set.labels, kind.with_gradient, prog, kind.mean_gradient, groups_, config_.vocab);
    if (kind.send_loss) prog.add(Copy(loss.loss.reshape({1}), *set.loss_out));
    if (kind.send_outputs) {
        prog.add(Copy(logits, *set.logits_out));
        poplar::program::Sequence& at = forward.on(encoded.stage);
        at.add(Copy(asFloat(stages_.graph(encoded.stage), encoded.tensor, at, "encoder_output_float"), *set.encoder_out));
    }
    if (ranges) {
        set.ranges_out.emplace(graph_.addDeviceToHostFIFO(streamHandle(streams::kActivationRanges, set.index),
                                                          poplar::FLOAT, ranges->sites().size()));
        ranges->send(stages_, forward, *set.ranges_out);
    }
    if (kind.with_gradient) {
        // the loss scale multiplies every gradient (fp16 training keeps small gradients representable)
        poplar::program::Sequence& start = backward.on(head_stage_);
        start.add(Copy(*set.loss_scale_in, set.loss_scale));
        popops::mulInPlace(head, loss.d_logits, set.loss_scale.reshape({1, 1}), start, "loss/scale");
        const poplar::Tensor d_logits = asType(head, loss.d_logits, params_.type(), start, "loss/d_logits_cast");
        const Staged d_decoded{lm_head_->backward(head, d_logits, start), head_stage_};
        const Stack::Gradients decoder = set.decoder->backward(d_decoded, backward);
        const Stack::Gradients encoder = set.encoder->backward(decoder.encoder_output, backward);
        set.decoder->embedBackward(decoder.embedded, backward);
        set.encoder->embedBackward(encoder.embedded, backward);
    }
    return loss;
}

}  // namespace ft5::t5
