// Test helper: the T5 graph replicated under a parallel plan (tp x dp replicas, one emulated IPU each), with the
// host side in logical terms: weights written and read as Hugging Face's tensors, the batch given as all
// dp x rows rows, logits gathered to [rows, vocab].
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>

#include "t5/shard_layout.h"
#include "t5/t5_program.h"

namespace ft5::test {

struct ReplicatedT5Graph {
    t5::ParallelPlan plan;
    poplar::Device device;
    poplar::Graph graph;
    t5::T5Program program;
    std::unique_ptr<poplar::Engine> engine;

    // Per-replica stream buffers (one block per replica, micro-batches in turn).
    std::vector<int> input_ids, attention_mask, decoder_input_ids, labels;
    std::vector<float> loss, loss_scale, training_result, logits, encoder_output, optimizer_settings, optimizer_result;
    std::vector<int> decode_input_ids, decode_attention_mask, decode_tokens, decode_parents;
    std::vector<float> decode_logits;
    std::vector<unsigned> dropout_seeds;  // [2] per replica

    // shape: one replica's rows.
    // before_engine: called once the program is built and before the engine compiles it (to add host reads).
    ReplicatedT5Graph(const t5::T5Config& config, const t5::BatchShape& shape, const t5::ParallelPlan& p,
                      const t5::DecodeShape& decode = {},
                      const std::function<void(poplar::Graph&, const t5::T5Program&)>& before_engine = {})
        : plan(p), device(make_device(p.replicas())),
          graph(device.getTarget(), poplar::replication_factor(unsigned(p.replicas()))),
          program(graph, config, shape, decode, p) {
        if (before_engine) before_engine(graph, program);
        engine = std::make_unique<poplar::Engine>(graph, program.programs());
        engine->load(device);
        const std::size_t r = p.replicas();
        const std::size_t shard = p.paddedVocab(config.vocab) / p.tp;
        loss.assign(r, 0.0f);
        loss_scale.assign(r, 1.0f);
        training_result.assign(2 * r, 0.0f);
        logits.assign(r * shape.batch * shape.tgt_len * shard, 0.0f);
        encoder_output.assign(r * shape.batch * shape.src_len * config.d_model, 0.0f);
        optimizer_settings.assign(r * t5::AdamWStep::kCount, 0.0f);
        optimizer_result.assign(2 * r, 0.0f);
        connect(t5::streams::kLoss, loss);
        connect(t5::streams::kLossScale, loss_scale);
        connect(t5::streams::kTrainingResult, training_result);
        connect(t5::streams::kLogits, logits);
        connect(t5::streams::kEncoderOutput, encoder_output);
        connect(t5::streams::kOptimizerSettings, optimizer_settings);
        connect(t5::streams::kOptimizerResult, optimizer_result);
        if (program.dropout()) {
            dropout_seeds.assign(2 * r, 7u);  // every replica the same seed
            connect(t5::streams::kDropoutSeed, dropout_seeds);
        }
        if (decode.enabled()) {
            decode_logits.assign(r * decode.batch * shard, 0.0f);
            connect(t5::streams::kDecodeLogits, decode_logits);
        }
    }

    // Decoding: the whole batch's prompts (dp x decode rows), then each row's last token (and beam parent, a row of
    // its own data-parallel group's block) for every step.
    void set_prompts(const std::vector<int>& ids, const std::vector<int>& mask, std::size_t rows, std::size_t src_len) {
        decode_input_ids = t5::replicaRows(plan, ids, rows, src_len);
        decode_attention_mask = t5::replicaRows(plan, mask, rows, src_len);
        connect(t5::streams::kDecodeInputIds, decode_input_ids);
        connect(t5::streams::kDecodeAttentionMask, decode_attention_mask);
    }
    void set_tokens(const std::vector<int>& tokens, const std::vector<int>& parents, std::size_t rows) {
        decode_tokens = t5::replicaRows(plan, tokens, rows, 1);
        decode_parents = t5::replicaRows(plan, parents, rows, 1);
        connect(t5::streams::kDecodeTokens, decode_tokens);
        connect(t5::streams::kDecodeParents, decode_parents);
    }
    // The step's logits as [dp x rows, vocab].
    std::vector<float> gathered_decode_logits(std::size_t rows, std::size_t vocab) const {
        return gather_shards(decode_logits, rows, vocab);
    }

    // The whole batch's rows (dp x one replica's rows each, micro-batches one after another) to every replica.
    template <typename Batch>
    void set_micro_batches(const std::vector<Batch>& batches) {
        const t5::BatchShape& s = program.shape();
        input_ids.clear();
        attention_mask.clear();
        decoder_input_ids.clear();
        labels.clear();
        auto append = [&](std::vector<int>& to, const std::vector<int>& rows, std::size_t len) {
            const std::vector<int> blocks = t5::replicaRows(plan, rows, s.batch, len);
            to.insert(to.end(), blocks.begin(), blocks.end());
        };
        for (const Batch& b : batches) {
            append(input_ids, b.input_ids, s.src_len);
            append(attention_mask, b.attention_mask, s.src_len);
            append(decoder_input_ids, b.decoder_input_ids, s.tgt_len);
            append(labels, b.labels, s.tgt_len);
        }
        connect(t5::streams::kInputIds, input_ids);
        connect(t5::streams::kAttentionMask, attention_mask);
        connect(t5::streams::kDecoderInputIds, decoder_input_ids);
        connect(t5::streams::kLabels, labels);
    }
    template <typename Batch>
    void set_batch(const Batch& b) {
        set_micro_batches(std::vector<Batch>{b});
    }

    void write_weight(const t5::Parameter& p, const std::vector<float>& logical) {
        const std::vector<float> buffer = t5::replicaBuffer(p, plan, logical);
        engine->writeTensor(t5::Parameters::weightHandle(p.name), buffer.data(), buffer.data() + buffer.size());
    }
    std::vector<float> weight(const t5::Parameter& p) { return logical(t5::Parameters::weightHandle(p.name), p, false); }
    // sum_data: before the optimizer step each data-parallel replica holds its own rows' part.
    std::vector<float> gradient(const t5::Parameter& p, bool sum_data) {
        return logical(t5::Parameters::gradientHandle(p.name), p, sum_data);
    }
    // Every replica's copy of one shard, to check that replicas agree.
    std::vector<float> replica_buffer(const std::string& handle, const t5::Parameter& p) {
        std::vector<float> all(plan.replicas() * t5::shardElements(p));
        engine->readTensor(handle, all.data(), all.data() + all.size());
        return all;
    }

    // The logits as [dp x rows x tgt_len, vocab]: each data-parallel group's rows, the shards side by side.
    std::vector<float> gathered_logits(std::size_t vocab) const {
        const t5::BatchShape& s = program.shape();
        return gather_shards(logits, s.batch * s.tgt_len, vocab);
    }

    // Per-replica blocks of [rows, shard] as [dp x rows, vocab].
    std::vector<float> gather_shards(const std::vector<float>& blocks, std::size_t rows, std::size_t vocab) const {
        const std::size_t shard = plan.paddedVocab(vocab) / plan.tp;
        std::vector<float> out(plan.dp * rows * vocab);
        for (std::size_t g = 0; g < plan.dp; ++g)
            for (std::size_t k = 0; k < plan.tp; ++k) {
                const float* block = blocks.data() + plan.replica(g, k) * rows * shard;
                for (std::size_t i = 0; i < rows; ++i)
                    for (std::size_t j = 0; j < shard && k * shard + j < vocab; ++j)
                        out[(g * rows + i) * vocab + k * shard + j] = block[i * shard + j];
            }
        return out;
    }

    std::array<float, 2> optimizer_step(const t5::AdamWStep& step) {
        const auto values = step.streamValues();
        for (std::size_t r = 0; r < plan.replicas(); ++r)
            std::copy(values.begin(), values.end(), optimizer_settings.begin() + std::ptrdiff_t(r * values.size()));
        run(t5::T5Program::kOptimizerStep);
        return {optimizer_result[0], optimizer_result[1]};
    }
    void run(t5::T5Program::Index program_index) { engine->run(program_index); }

private:
    static poplar::Device make_device(std::size_t ipus) {
        poplar::IPUModel model;
        model.numIPUs = unsigned(ipus);
        poplar::Device d = model.createDevice();
        d.attach();
        return d;
    }
    std::vector<float> logical(const std::string& handle, const t5::Parameter& p, bool sum_data) {
        return t5::logicalTensor(p, plan, replica_buffer(handle, p), sum_data);
    }
    template <typename T>
    void connect(const char* handle, std::vector<T>& buffer) {
        engine->connectStream(handle, buffer.data(), buffer.data() + buffer.size());
    }
};

}  // namespace ft5::test
