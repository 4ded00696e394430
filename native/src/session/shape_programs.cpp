#include "session/shape_programs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "session/session_engine.h"
#include "session/shape_bucket.h"
#include "t5/stream_handle.h"

namespace ft5::session {

namespace {

template <typename T>
void connect(poplar::Engine& engine, const char* stream, std::size_t set, std::vector<T>& buffer) {
    engine.connectStream(t5::streamHandle(stream, set), buffer.data(), buffer.data() + buffer.size());
}

}  // namespace

ShapePrograms::ShapePrograms(SessionEngine& engine, std::size_t set)
    : engine_(engine), set_(set), shape_(engine.program().shape(set)), decode_(engine.program().decodeShape(set)),
      dropout_(engine.program().dropout(set) != nullptr), replicas_(engine.host().replicas()) {
    const t5::ParallelPlan& host = engine.host();
    const std::size_t r = replicas_, m = shape_.micro_batches;
    const std::size_t shard = host.paddedVocab(engine.vocab()) / host.tp;
    const std::size_t src = shape_.batch * shape_.src_len * m, tgt = shape_.batch * shape_.tgt_len * m;
    input_ids_.resize(r * src);
    attention_mask_.resize(r * src);
    decoder_input_ids_.resize(r * tgt);
    labels_.resize(r * tgt);
    logits_.resize(r * shape_.batch * shape_.tgt_len * shard);
    encoder_output_.resize(r * shape_.batch * shape_.src_len * engine.d_model());
    loss_.resize(r * m);
    loss_scale_.assign(r * m, 1.0f);
    training_result_.resize(2 * r);
    dropout_seed_.resize(2 * r * m);
    poplar::Engine& e = engine.engine();
    connect(e, t5::streams::kInputIds, set, input_ids_);
    connect(e, t5::streams::kAttentionMask, set, attention_mask_);
    connect(e, t5::streams::kDecoderInputIds, set, decoder_input_ids_);
    connect(e, t5::streams::kLabels, set, labels_);
    connect(e, t5::streams::kLoss, set, loss_);
    connect(e, t5::streams::kLossScale, set, loss_scale_);
    if (dropout_) connect(e, t5::streams::kDropoutSeed, set, dropout_seed_);
    connect(e, t5::streams::kTrainingResult, set, training_result_);
    connect(e, t5::streams::kLogits, set, logits_);
    connect(e, t5::streams::kEncoderOutput, set, encoder_output_);
    if (const std::size_t sites = engine.program().activationSites(set).size(); sites > 0) {
        activation_ranges_.resize(r * sites);
        connect(e, t5::streams::kActivationRanges, set, activation_ranges_);
    }
    if (const t5::DecodeShape& decode = decode_; decode.enabled()) {
        decode_input_ids_.resize(r * decode.batch * decode.src_len);
        decode_attention_mask_.resize(decode_input_ids_.size());
        decode_tokens_.resize(r * decode.batch);
        decode_parents_.resize(r * decode.batch);
        decode_logits_.resize(r * decode.batch * shard);
        connect(e, t5::streams::kDecodeInputIds, set, decode_input_ids_);
        connect(e, t5::streams::kDecodeAttentionMask, set, decode_attention_mask_);
        connect(e, t5::streams::kDecodeTokens, set, decode_tokens_);
        connect(e, t5::streams::kDecodeParents, set, decode_parents_);
        connect(e, t5::streams::kDecodeLogits, set, decode_logits_);
    }
}

void ShapePrograms::run(t5::T5Program::Index index) { engine_.run(set_, index); }

std::vector<float> ShapePrograms::activation_ranges() const {
    const std::size_t sites = activation_ranges_.size() / replicas_;
    std::vector<float> out(activation_ranges_.begin(), activation_ranges_.begin() + std::ptrdiff_t(sites));
    for (std::size_t r = 1; r < replicas_; ++r)
        for (std::size_t i = 0; i < sites; ++i) out[i] = std::fmax(out[i], activation_ranges_[r * sites + i]);
    return out;
}

template <typename T>
void ShapePrograms::replicate(const std::vector<T>& block, std::vector<T>& to) const {
    for (std::size_t r = 0; r < replicas_; ++r)
        std::copy(block.begin(), block.end(), to.begin() + std::ptrdiff_t(r * block.size()));
}

void ShapePrograms::set_micro_batch(std::size_t entry, const BatchView& b) {
    const t5::ParallelPlan& host = engine_.host();
    const std::size_t src = shape_.batch * shape_.src_len, tgt = shape_.batch * shape_.tgt_len;
    const std::size_t first_src = entry * replicas_ * src, first_tgt = entry * replicas_ * tgt;
    const int64_t rows = b.batch / int64_t(host.dp);
    std::vector<int> ids(src), mask(src), decoder_ids(tgt), labels(tgt);
    for (std::size_t g = 0; g < host.dp; ++g) {
        BatchView part = b;
        part.batch = rows;
        const int64_t first = int64_t(g) * rows;
        part.input_ids += first * b.src_len;
        if (part.attention_mask) part.attention_mask += first * b.src_len;
        part.decoder_input_ids += first * b.tgt_len;
        if (part.labels) part.labels += first * b.tgt_len;
        pad_into(part, shape_, ids, mask, decoder_ids, labels);
        for (std::size_t k = 0; k < host.tp; ++k) {
            const std::size_t r = host.replica(g, k);
            const auto at_src = std::ptrdiff_t(first_src + r * src), at_tgt = std::ptrdiff_t(first_tgt + r * tgt);
            std::copy(ids.begin(), ids.end(), input_ids_.begin() + at_src);
            std::copy(mask.begin(), mask.end(), attention_mask_.begin() + at_src);
            std::copy(decoder_ids.begin(), decoder_ids.end(), decoder_input_ids_.begin() + at_tgt);
            std::copy(labels.begin(), labels.end(), labels_.begin() + at_tgt);
        }
    }
}

void ShapePrograms::gather_vocab(const std::vector<float>& blocks, std::size_t group, std::size_t block_rows,
                                 std::size_t rows, float* out) const {
    const t5::ParallelPlan& host = engine_.host();
    const std::size_t vocab = engine_.vocab(), shard = host.paddedVocab(vocab) / host.tp;
    for (std::size_t k = 0; k < host.tp; ++k) {
        const float* block = blocks.data() + host.replica(group, k) * block_rows * shard;
        const std::size_t width = std::min(shard, vocab - std::min(vocab, k * shard));  // the padding dropped
        for (std::size_t i = 0; i < rows; ++i)
            std::memcpy(out + i * vocab + k * shard, block + i * shard, width * sizeof(float));
    }
}

void ShapePrograms::logits_of(const BatchView& b, float* out) const {
    const t5::ParallelPlan& host = engine_.host();
    const std::size_t vocab = engine_.vocab(), rows = std::size_t(b.batch) / host.dp;
    std::vector<float> group(shape_.batch * shape_.tgt_len * vocab);
    for (std::size_t g = 0; g < host.dp; ++g) {
        gather_vocab(logits_, g, shape_.batch * shape_.tgt_len, shape_.batch * shape_.tgt_len, group.data());
        unpad(group.data(), shape_.tgt_len, rows, std::size_t(b.tgt_len), vocab,
              out + g * rows * std::size_t(b.tgt_len) * vocab);
    }
}

void ShapePrograms::encoder_output_of(const BatchView& b, float* out) const {
    const t5::ParallelPlan& host = engine_.host();
    const std::size_t d = engine_.d_model(), rows = std::size_t(b.batch) / host.dp;
    const std::size_t block = shape_.batch * shape_.src_len * d;
    for (std::size_t g = 0; g < host.dp; ++g)
        unpad(encoder_output_.data() + host.replica(g, 0) * block, shape_.src_len, rows, std::size_t(b.src_len), d,
              out + g * rows * std::size_t(b.src_len) * d);
}

void ShapePrograms::set_loss_scale(float scale) { std::fill(loss_scale_.begin(), loss_scale_.end(), scale); }

void ShapePrograms::set_dropout_seed(uint64_t seed, std::size_t entry) {
    const t5::ParallelPlan& host = engine_.host();
    unsigned* block = dropout_seed_.data() + 2 * replicas_ * entry;
    for (std::size_t r = 0; r < replicas_; ++r) {
        const uint64_t s = seed + engine_.local().first + host.dpIndex(r);  // the run-wide data-parallel index
        block[2 * r] = unsigned(s);
        block[2 * r + 1] = unsigned(s >> 32);
    }
}

void ShapePrograms::set_decode_prompts(const std::vector<int>& ids, const std::vector<int>& mask) {
    replicate(ids, decode_input_ids_);
    replicate(mask, decode_attention_mask_);
}

void ShapePrograms::set_decode_tokens(const std::vector<int>& tokens, const std::vector<int>& parents) {
    replicate(tokens, decode_tokens_);
    replicate(parents, decode_parents_);
}

void ShapePrograms::decode_logits_of(std::size_t rows, float* out) const {
    gather_vocab(decode_logits_, 0, decode_tokens_.size() / replicas_, rows, out);
}

}  // namespace ft5::session
