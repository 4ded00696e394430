#include "t5/t5_program.h"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include <poplar/CSRFunctions.hpp>
#include <popops/Cast.hpp>
#include <popops/DynamicSlice.hpp>
#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>
#include <popops/Zero.hpp>

#include "t5/attention.h"
#include "t5/micro_batch_stash.h"
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
    // the scheduled micro-batches' one pass: its dropout (each micro-batch's seed read when its forward starts and
    // kept until its backward regenerates the masks) and the stash of the micro-batches in flight
    std::unique_ptr<Dropout> scheduled_dropout;
    poplar::Tensor scheduled_seed;
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

std::size_t T5Program::decodeStateBytes(std::size_t stage) const {
    std::size_t total = 0;
    for (const auto& set : sets_)
        if (set->decoding) total += set->decoding->stateBytes(stage);
    return total;
}
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
    namespace pe = popops::expr;
    using poplar::program::Copy;
    const std::size_t m = set.shape.batch.micro_batches;
    // one pass, built once: every micro-batch runs its segments, finding its number in the segment's counter
    SegmentChain forward, backward;
    Dropout* dropout = nullptr;
    if (set.dropout) {
        set.scheduled_seed = graph_.addVariable(poplar::UNSIGNED_INT, {2}, poplar::VariableMappingMethod::LINEAR,
                                                "scheduled/dropout_seed");
        set.scheduled_dropout = std::make_unique<Dropout>(graph_, config_.dropout, set.scheduled_seed, groups_);
        dropout = set.scheduled_dropout.get();
        forward.on(0).add(Copy(*set.seed_in, set.scheduled_seed));
    }
    const CrossEntropy loss = microBatch(set, forward, backward, PassKind{true, true, true, false}, dropout);
    const std::vector<PipelineTask> tasks = pipeline_tasks(plan().order, forward.stages(), backward.stages(),
                                                           std::uint32_t(stages_.count()), std::uint32_t(m));

    // The pass's segments in the order they run for one micro-batch (position q: the forward chain, then the
    // backward chain).
    struct Position {
        const SegmentChain* chain;
        std::size_t segment, stage;
    };
    std::vector<Position> order;
    for (std::size_t j = 0; j < forward.size(); ++j) order.push_back({&forward, j, forward.stage(j)});
    for (std::size_t j = 0; j < backward.size(); ++j) order.push_back({&backward, j, backward.stage(j)});
    auto depth = [&](std::size_t first, std::size_t last) {
        return stash_depth(tasks, forward.size(), first, last);
    };

    // Each stage keeps, from its first segment to its last, the activations its backward pass reads (the tensors
    // it received among them)
    std::vector<std::vector<poplar::Tensor>> kept(stages_.count());
    std::vector<Staged> activations;
    set.encoder->keptTensors(activations);
    set.decoder->keptTensors(activations);
    activations.push_back({lm_head_->input(), head_stage_});
    activations.push_back({loss.d_logits, head_stage_});
    for (const Staged& t : activations) kept.at(t.stage).push_back(t.tensor);
    std::vector<std::size_t> first_on(stages_.count(), order.size()), last_on(stages_.count(), 0);
    for (std::size_t q = 0; q < order.size(); ++q) {
        first_on[order[q].stage] = std::min(first_on[order[q].stage], q);
        last_on[order[q].stage] = q;
    }
    // and what a segment reads on its stage that an earlier segment of its chain there may have made (a chain that
    // comes back to a stage; what the backward pass reads of the forward pass's is among the activations above)
    for (std::size_t q = 0; q < order.size(); ++q) {
        const SegmentChain& chain = *order[q].chain;
        bool back = false;
        for (std::size_t j = 0; j < order[q].segment; ++j) back = back || chain.stage(j) == order[q].stage;
        if (back)
            for (const poplar::Tensor& t : chain.reused(order[q].segment)) kept[order[q].stage].push_back(t);
    }
    // A stage that runs each micro-batch's segments with no other's in between (1F1B's last) stashes nothing.
    std::vector<uint32_t> stage_of;
    for (const Position& at : order) stage_of.push_back(std::uint32_t(at.stage));
    auto alone = [&](std::size_t first, std::size_t last) {
        return runs_alone(tasks, stage_of, forward.size(), first, last);
    };
    MicroBatchStash stash(stages_, "scheduled/stash");
    std::vector<std::optional<std::size_t>> kept_lane(stages_.count());
    for (std::size_t s = 0; s < stages_.count(); ++s)
        if (first_on[s] < last_on[s] && !alone(first_on[s], last_on[s]))
            kept_lane[s] = stash.addLane(s, kept[s], depth(first_on[s], last_on[s]));

    // What a segment sends waits in a lane of its own until the last segment that copies it in: a tensor received
    // at position q from stage s was written by stage s's last segment before q.
    struct Sent {
        std::optional<std::size_t> lane;  // none when the sender runs nothing else before the last reader
        std::size_t last_reader = 0;
        std::vector<poplar::Tensor> tensors;
    };
    std::map<std::size_t, Sent> sent;  // by producer position
    // what each position receives, by producer
    std::vector<std::map<std::size_t, std::vector<poplar::Tensor>>> receives(order.size());
    for (std::size_t q = 0; q < order.size(); ++q) {
        for (const Staged& t : order[q].chain->received(order[q].segment)) {
            std::size_t producer = q;
            for (std::size_t p = 0; p < q; ++p)
                if (order[p].stage == t.stage) producer = p;
            if (producer == q) throw std::logic_error("scheduled micro-batches: a tensor arrives before it is made");
            Sent& lane = sent[producer];
            lane.last_reader = std::max(lane.last_reader, q);
            lane.tensors.push_back(t.tensor);
            receives[q][producer].push_back(t.tensor);
        }
    }
    for (auto& [producer, lane] : sent)
        if (!alone(producer, lane.last_reader))
            lane.lane = stash.addLane(order[producer].stage, lane.tensors, depth(producer, lane.last_reader));
    const unsigned seed_depth = depth(0, order.size() - 1);
    poplar::Tensor seeds;
    if (dropout)
        seeds = graph_.addVariable(poplar::UNSIGNED_INT, {seed_depth, 2}, poplar::VariableMappingMethod::LINEAR,
                                   "scheduled/dropout_seeds");

    poplar::program::Sequence prog;
    stash.undefine(prog);
    if (dropout) prog.add(poplar::program::WriteUndef(seeds));
    // each segment's program: its micro-batch's state in, the segment, its state out, the counter on
    std::vector<poplar::Function> functions;
    for (std::size_t q = 0; q < order.size(); ++q) {
        const Position& at = order[q];
        const std::string name = std::string(at.chain == &backward ? "scheduled/backward" : "scheduled/forward") +
                                 std::to_string(at.segment);
        poplar::Graph& graph = stages_.graph(at.stage);
        const poplar::Tensor counter =
            graph.addVariable(poplar::UNSIGNED_INT, {1}, poplar::VariableMappingMethod::LINEAR, name + "/micro_batch");
        popops::zero(graph, counter, prog, name + "/micro_batch_zero");
        poplar::program::Sequence body;
        const std::optional<std::size_t>& keeps = kept_lane[at.stage];
        if (keeps && q > first_on[at.stage]) stash.restore(*keeps, counter, body);
        for (const auto& [producer, tensors] : receives[q]) {
            const auto& lane = sent.at(producer).lane;
            if (!lane) continue;
            // the sender counts what this segment has copied in, so restoring there touches only the sender's IPU
            poplar::Graph& from = stages_.graph(order[producer].stage);
            const std::string read = name + "/from" + std::to_string(producer);
            const poplar::Tensor copied =
                from.addVariable(poplar::UNSIGNED_INT, {1}, poplar::VariableMappingMethod::LINEAR, read + "/micro_batch");
            popops::zero(from, copied, prog, read + "/micro_batch_zero");
            stash.restore(*lane, tensors, copied, body);
            popops::mapInPlace(from, pe::_1 + pe::Const(1u), {copied}, body, read + "/next_micro_batch");
        }
        auto seedSlot = [&] {
            return popops::map(graph_, pe::Rem(pe::_1, pe::Const(seed_depth)), {counter}, body, name + "/seed_slot");
        };
        if (dropout && q > 0)
            popops::dynamicSliceWithOutput(graph_, set.scheduled_seed.expand({0}), seeds, seedSlot(), {0}, {1}, body,
                                           name + "/seed");
        body.add(at.chain->segment(at.segment));
        if (dropout && q == 0)
            popops::dynamicUpdate(graph_, seeds, set.scheduled_seed.expand({0}), seedSlot(), {0}, {1}, body,
                                  name + "/seed_save");
        if (keeps && q < last_on[at.stage]) stash.save(*keeps, counter, body);
        if (sent.count(q) && sent.at(q).lane) stash.save(*sent.at(q).lane, counter, body);
        popops::mapInPlace(graph, pe::_1 + pe::Const(1u), {counter}, body, name + "/next_micro_batch");
        functions.push_back(graph_.addFunction(body));
    }
    // the tasks in the schedule's order; a repeated pattern (the pipeline's steady phase) runs as one loop
    for (const TaskRun& run : repeated_runs(tasks)) {
        poplar::program::Sequence pattern;
        for (std::size_t t = run.first; t < run.first + run.length; ++t)
            pattern.add(poplar::program::Call(
                functions[tasks[t].backward ? forward.size() + tasks[t].segment : tasks[t].segment]));
        if (run.repeats > 1)
            prog.add(poplar::program::Repeat(run.repeats, pattern));
        else
            prog.add(pattern);
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
