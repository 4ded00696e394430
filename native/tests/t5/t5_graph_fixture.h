// Test helper: the T5 graph built for one batch shape on an emulated IPU, its engine loaded, weights written
// by name, and the programs run on a batch held in the fixture.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>

#include "t5/t5_program.h"
#include "test_json.h"
#include "test_safetensors.h"

namespace ft5::test {

// A tiny geometry for tests with random weights: d_kv x heads (15) differs from d_model (12), few buckets.
inline t5::T5Config tiny_config(std::size_t decoder_layers, float dropout = 0.0f) {
    t5::T5Config c;
    c.vocab = 40;
    c.d_model = 12;
    c.d_kv = 5;
    c.heads = 3;
    c.d_ff = 20;
    c.encoder_layers = 1;
    c.decoder_layers = decoder_layers;
    c.buckets = 8;
    c.max_distance = 16;
    c.dropout = dropout;
    return c;
}

// The config of a fixture checkpoint (config.json) with its embedding layout read from the weights file.
inline t5::T5Config t5_config_from(const JsonValue& config, const SafetensorsFile& weights) {
    t5::T5Config c;
    auto u = [&](const char* k) { return std::size_t(config.at(k).number); };
    c.vocab = u("vocab_size");
    c.d_model = u("d_model");
    c.d_kv = u("d_kv");
    c.d_ff = u("d_ff");
    c.heads = u("num_heads");
    c.encoder_layers = u("num_layers");
    c.decoder_layers = u("num_decoder_layers");
    c.buckets = u("relative_attention_num_buckets");
    c.max_distance = u("relative_attention_max_distance");
    c.eps = float(config.at("layer_norm_epsilon").number);
    c.feed_forward = config.at("feed_forward_proj").string == "gated-gelu" ? t5::FeedForward::GatedGelu
                                                                           : t5::FeedForward::Relu;
    c.tied = config.at("tie_word_embeddings").boolean;
    c.dropout = float(config.at("dropout_rate").number);
    // transformers-5 untied saves: embed_tokens present and distinct from shared.weight
    const bool separate = weights.has("encoder.embed_tokens.weight") &&
                          weights.at("encoder.embed_tokens.weight").bytes != weights.at("shared.weight").bytes;
    c.embeddings = separate ? t5::EmbeddingLayout::Separate : t5::EmbeddingLayout::Shared;
    return c;
}

struct T5Graph {
    poplar::Device device;
    poplar::Graph graph;
    t5::T5Program program;
    std::unique_ptr<poplar::Engine> engine;

    // Host buffers the streams read and write.
    std::vector<int> input_ids, attention_mask, decoder_input_ids, labels;
    float loss = 0, loss_scale = 1.0f;
    std::array<unsigned, 2> dropout_seed{1, 2};
    std::vector<unsigned> micro_batch_seeds;    // set_micro_batches: one [2] entry per micro-batch
    std::array<float, 2> training_result{};     // mean loss, non-finite
    std::vector<float> logits, encoder_output;
    std::array<float, t5::AdamWStep::kCount> optimizer_settings{};
    std::array<float, 2> optimizer_result{};  // gradient norm, skipped
    std::vector<int> decode_input_ids, decode_attention_mask, decode_tokens, decode_parents;  // parents: identity
    std::vector<float> decode_logits;

    // before_engine: called once the program is built and before the engine compiles it (to add host reads).
    T5Graph(const t5::T5Config& config, const t5::BatchShape& shape, const t5::DecodeShape& decode = {},
            const std::function<void(poplar::Graph&, const t5::T5Program&)>& before_engine = {})
        : device(make_device()), graph(device.getTarget()), program(graph, config, shape, decode) {
        if (before_engine) before_engine(graph, program);
        engine = std::make_unique<poplar::Engine>(graph, program.programs());
        engine->load(device);
        input_ids.resize(shape.batch * shape.src_len);
        attention_mask.resize(input_ids.size());
        decoder_input_ids.resize(shape.batch * shape.tgt_len);
        labels.resize(decoder_input_ids.size());
        logits.resize(decoder_input_ids.size() * config.vocab);
        encoder_output.resize(input_ids.size() * config.d_model);
        connect(t5::streams::kInputIds, input_ids);
        connect(t5::streams::kAttentionMask, attention_mask);
        connect(t5::streams::kDecoderInputIds, decoder_input_ids);
        connect(t5::streams::kLabels, labels);
        engine->connectStream(t5::streams::kLoss, &loss, &loss + 1);
        engine->connectStream(t5::streams::kLossScale, &loss_scale, &loss_scale + 1);
        if (program.dropout())
            engine->connectStream(t5::streams::kDropoutSeed, dropout_seed.data(),
                                  dropout_seed.data() + dropout_seed.size());
        engine->connectStream(t5::streams::kTrainingResult, training_result.data(),
                              training_result.data() + training_result.size());
        connect(t5::streams::kLogits, logits);
        connect(t5::streams::kEncoderOutput, encoder_output);
        engine->connectStream(t5::streams::kOptimizerSettings, optimizer_settings.data(),
                              optimizer_settings.data() + optimizer_settings.size());
        engine->connectStream(t5::streams::kOptimizerResult, optimizer_result.data(),
                              optimizer_result.data() + optimizer_result.size());
        if (decode.enabled()) {
            decode_input_ids.resize(decode.batch * decode.src_len);
            decode_attention_mask.resize(decode_input_ids.size());
            decode_tokens.resize(decode.batch);
            for (std::size_t r = 0; r < decode.batch; ++r) decode_parents.push_back(int(r));
            decode_logits.resize(decode.batch * config.vocab);
            connect(t5::streams::kDecodeInputIds, decode_input_ids);
            connect(t5::streams::kDecodeAttentionMask, decode_attention_mask);
            connect(t5::streams::kDecodeTokens, decode_tokens);
            connect(t5::streams::kDecodeParents, decode_parents);
            connect(t5::streams::kDecodeLogits, decode_logits);
        }
    }

    // Runs the AdamW program with these settings; returns the gradient norm and whether the step was skipped.
    std::array<float, 2> optimizer_step(const t5::AdamWStep& step) {
        optimizer_settings = step.streamValues();
        run(t5::T5Program::kOptimizerStep);
        return optimizer_result;
    }

    void write_weight(const std::string& name, const std::vector<float>& w) {
        engine->writeTensor(t5::Parameters::weightHandle(name), w.data(), w.data() + w.size());
    }
    std::vector<float> read(const std::string& handle, std::size_t count) {
        std::vector<float> out(count);
        engine->readTensor(handle, out.data(), out.data() + out.size());
        return out;
    }
    std::vector<float> gradient(const t5::Parameter& p) {
        return read(t5::Parameters::gradientHandle(p.name), p.weight.numElements());
    }
    std::vector<float> weight(const t5::Parameter& p) {
        return read(t5::Parameters::weightHandle(p.name), p.weight.numElements());
    }
    void run(t5::T5Program::Index program_index) { engine->run(program_index); }

    // The training step's micro-batches, read in turn (each the program's batch shape), and their dropout seeds.
    template <typename Batch>
    void set_micro_batches(const std::vector<Batch>& batches, const std::vector<unsigned>& seeds = {}) {
        input_ids.clear();
        attention_mask.clear();
        decoder_input_ids.clear();
        labels.clear();
        for (const Batch& b : batches) {
            input_ids.insert(input_ids.end(), b.input_ids.begin(), b.input_ids.end());
            attention_mask.insert(attention_mask.end(), b.attention_mask.begin(), b.attention_mask.end());
            decoder_input_ids.insert(decoder_input_ids.end(), b.decoder_input_ids.begin(), b.decoder_input_ids.end());
            labels.insert(labels.end(), b.labels.begin(), b.labels.end());
        }
        connect(t5::streams::kInputIds, input_ids);
        connect(t5::streams::kAttentionMask, attention_mask);
        connect(t5::streams::kDecoderInputIds, decoder_input_ids);
        connect(t5::streams::kLabels, labels);
        if (!seeds.empty()) {
            micro_batch_seeds = seeds;
            connect(t5::streams::kDropoutSeed, micro_batch_seeds);
        }
    }

    template <typename Batch>
    void set_batch(const Batch& b) {
        input_ids.assign(b.input_ids.begin(), b.input_ids.end());
        attention_mask.assign(b.attention_mask.begin(), b.attention_mask.end());
        decoder_input_ids.assign(b.decoder_input_ids.begin(), b.decoder_input_ids.end());
        labels.assign(b.labels.begin(), b.labels.end());
    }

private:
    static poplar::Device make_device() {
        poplar::IPUModel model;
        poplar::Device d = model.createDevice();
        d.attach();
        return d;
    }
    template <typename T>
    void connect(const char* handle, std::vector<T>& buffer) {
        engine->connectStream(handle, buffer.data(), buffer.data() + buffer.size());
    }
};

// The graph of a fixture checkpoint with its weights written (every parameter the graph has must be in the file).
inline std::unique_ptr<T5Graph> fixture_graph(const std::string& model, const t5::BatchShape& shape,
                                              const t5::DecodeShape& decode = {}) {
    const JsonValue config = parse_json(read_text(std::string(FT5_FIXTURES_DIR) + "/" + model + "/config.json"));
    const SafetensorsFile weights(std::string(FT5_FIXTURES_DIR) + "/" + model + "/model.safetensors");
    auto g = std::make_unique<T5Graph>(t5_config_from(config, weights), shape, decode);
    for (const auto& p : g->program.parameters().all()) {
        EXPECT_TRUE(weights.has(p.name)) << model << " has no tensor " << p.name;
        if (weights.has(p.name)) g->write_weight(p.name, weights.at(p.name).f32());
    }
    return g;
}

}  // namespace ft5::test
