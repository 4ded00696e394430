// ft5_bench: CPU timing of the native T5 (the T5 builder's programs on the emulated SDK, through the C ABI), with
// the flags and the figures of `torch_t5.py bench` so the two can run side by side: one training step (forward +
// backward + AdamW), KV-cached greedy generation, the encoder alone, and peak RSS. Ends with one JSON line.
// The warmup runs also compile each batch shape's program, so the timed runs measure execution only.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ft5/ft5.h"

namespace {

struct Args {
    std::string preset = "flan-t5-small";
    uint32_t batch = 8, src_len = 128, tgt_len = 8, steps = 10, warmup = 2, threads = 0, vocab = 0;
    float dropout = 0.0f;
};

void usage() {
    std::printf(
        "usage: ft5_bench [--preset tiny|flan-t5-small|flan-t5-base] [--batch N] [--src-len N] [--tgt-len N]\n"
        "                 [--steps N] [--warmup N] [--threads N] [--vocab N] [--dropout P]\n");
}

bool parse(int argc, char** argv, Args& a) {
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i], v;
        const auto eq = k.find('=');
        if (eq != std::string::npos) {
            v = k.substr(eq + 1);
            k = k.substr(0, eq);
        } else if (k != "--help" && k != "-h") {
            if (i + 1 >= argc) return false;
            v = argv[++i];
        }
        auto u = [&] { return uint32_t(std::strtoul(v.c_str(), nullptr, 10)); };
        if (k == "--help" || k == "-h") return false;
        if (k == "--preset") a.preset = v;
        else if (k == "--batch") a.batch = u();
        else if (k == "--src-len") a.src_len = u();
        else if (k == "--tgt-len") a.tgt_len = u();
        else if (k == "--steps") a.steps = u();
        else if (k == "--warmup") a.warmup = u();
        else if (k == "--threads") a.threads = u();
        else if (k == "--vocab") a.vocab = u();
        else if (k == "--dropout") a.dropout = std::strtof(v.c_str(), nullptr);
        else return false;
    }
    return a.batch > 0 && a.src_len > 0 && a.tgt_len > 0 && a.steps > 0;
}

bool preset(const std::string& name, ft5_model_desc& m) {
    ft5_model_desc_init(&m);  // defaults = flan-t5-small
    if (name == "flan-t5-small") return true;
    if (name == "flan-t5-base") {
        m.d_model = 768;
        m.d_ff = 2048;
        m.num_heads = 12;
        m.num_layers = m.num_decoder_layers = 12;
        return true;
    }
    if (name == "tiny") {
        m.vocab_size = 2176;
        m.d_model = 64;
        m.d_kv = 16;
        m.d_ff = 128;
        m.num_heads = 4;
        m.num_layers = m.num_decoder_layers = 2;
        return true;
    }
    return false;
}

void check(ft5_status s, const char* what) {
    if (s != FT5_OK) {
        std::fprintf(stderr, "%s failed (%d): %s\n", what, int(s), ft5_last_error());
        std::exit(1);
    }
}

double peak_rss_mib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    if (!parse(argc, argv, a)) {
        usage();
        return 2;
    }
    if (a.threads == 0) a.threads = std::max(1u, std::thread::hardware_concurrency());
    ft5_model_desc m;
    if (!preset(a.preset, m)) {
        std::fprintf(stderr, "unknown preset %s\n", a.preset.c_str());
        return 2;
    }
    if (a.vocab != 0) m.vocab_size = a.vocab;
    m.dropout_rate = a.dropout;

    ft5_device_desc dd;
    ft5_device_desc_init(&dd);
    dd.num_threads = a.threads;
    dd.bytes_per_tile = (uint64_t(64) << 30) / dd.tiles_per_ipu;  // a 64 GiB emulated IPU: timing, not capacity
    ft5_device* device = nullptr;
    check(ft5_device_create(&dd, &device), "ft5_device_create");
    ft5_plan_desc plan;
    ft5_plan_desc_init(&plan);
    ft5_session* session = nullptr;
    check(ft5_session_create(device, &m, &plan, &session), "ft5_session_create");
    // The training and decoding shapes compiled together before the weights: the state never goes through the host.
    ft5_program_shape shapes[2];
    for (ft5_program_shape& s : shapes) {
        ft5_program_shape_init(&s);
        s.batch = a.batch;
        s.src_len = a.src_len;
        s.tgt_len = a.tgt_len;
    }
    shapes[0].training = 1;
    shapes[1].kind = FT5_PROGRAM_DECODE;
    check(ft5_session_prepare(session, shapes, 2), "ft5_session_prepare");

    // Random weights with the HF T5 init scales (factor 1.0), as torch_t5.py's init_weights.
    uint32_t count = 0;
    check(ft5_session_param_count(session, &count), "param_count");
    std::mt19937_64 rng(0);
    uint64_t n_params = 0;
    const double d = m.d_model;
    for (uint32_t i = 0; i < count; ++i) {
        ft5_param_info info{};
        info.struct_size = sizeof(info);
        check(ft5_session_param_info(session, i, &info), "param_info");
        size_t n = 1;
        for (uint32_t r = 0; r < info.rank; ++r) n *= size_t(info.shape[r]);
        n_params += n;
        const std::string name = info.name;
        std::vector<float> w(n, 1.0f);
        if (name.find("layer_norm") == std::string::npos) {
            double std_ = 1.0 / std::sqrt(d);
            if (name.find(".q.weight") != std::string::npos) std_ = 1.0 / std::sqrt(d * m.d_kv);
            if (name.find(".o.weight") != std::string::npos) std_ = 1.0 / std::sqrt(double(m.num_heads) * m.d_kv);
            if (name.find(".wo.weight") != std::string::npos) std_ = 1.0 / std::sqrt(double(m.d_ff));
            if (name.find("shared") != std::string::npos || name.find("embed_tokens") != std::string::npos ||
                name.find("lm_head") != std::string::npos)
                std_ = 1.0;
            std::normal_distribution<float> dist(0.0f, float(std_));
            for (auto& x : w) x = dist(rng);
        }
        check(ft5_session_param_write(session, i, FT5_SLOT_WEIGHT, w.data(), w.size()), "param_write");
    }

    std::uniform_int_distribution<int32_t> tok(2, int32_t(m.vocab_size) - 1);
    std::vector<int32_t> ids(size_t(a.batch) * a.src_len), mask(ids.size(), 1), labels(size_t(a.batch) * a.tgt_len);
    for (auto& x : ids) x = tok(rng);
    for (auto& x : labels) x = tok(rng);
    std::vector<int32_t> dec(labels.size());
    for (uint32_t b = 0; b < a.batch; ++b) {
        ids[size_t(b + 1) * a.src_len - 1] = m.eos_token_id;
        labels[size_t(b + 1) * a.tgt_len - 1] = m.eos_token_id;
        dec[size_t(b) * a.tgt_len] = m.decoder_start_token_id;
        for (uint32_t t = 1; t < a.tgt_len; ++t) dec[size_t(b) * a.tgt_len + t] = labels[size_t(b) * a.tgt_len + t - 1];
    }
    ft5_batch batch;
    ft5_batch_init(&batch);
    batch.batch = a.batch;
    batch.src_len = a.src_len;
    batch.tgt_len = a.tgt_len;
    batch.input_ids = ids.data();
    batch.attention_mask = mask.data();
    batch.decoder_input_ids = dec.data();
    batch.labels = labels.data();
    batch.training = 1;

    uint64_t step = 0;
    auto train_step = [&] {
        check(ft5_session_zero_gradients(session), "zero_gradients");
        float loss = 0;
        check(ft5_session_forward_backward(session, &batch, 1.0f, &loss), "forward_backward");
        ft5_optimizer_step st;
        ft5_optimizer_step_init(&st);
        st.step = ++step;
        st.learning_rate = 1e-4f;
        st.weight_decay = 0.01f;
        st.decay_all_parameters = 1;  // torch's default param group decays everything
        ft5_step_result r{};
        r.struct_size = sizeof(r);
        check(ft5_session_optimizer_step(session, &st, &r), "optimizer_step");
    };
    const size_t V = m.vocab_size;
    std::vector<float> logits(size_t(a.batch) * V);
    auto generate = [&] {
        check(ft5_session_decode_begin(session, ids.data(), mask.data(), a.batch, a.src_len, a.tgt_len),
              "decode_begin");
        std::vector<int32_t> next(a.batch, m.decoder_start_token_id);
        for (uint32_t t = 0; t < a.tgt_len; ++t) {
            check(ft5_session_decode_step(session, next.data(), logits.data(), logits.size()), "decode_step");
            for (uint32_t b = 0; b < a.batch; ++b) {
                const float* row = logits.data() + b * V;
                next[b] = int32_t(std::max_element(row, row + V) - row);
            }
        }
        check(ft5_session_decode_end(session), "decode_end");
    };
    // The encoder has no ABI entry point of its own: a decode's begin runs it (with the cross-attention keys and
    // values it caches), which is the part of a generation that is not per token.
    auto encode = [&] {
        check(ft5_session_decode_begin(session, ids.data(), mask.data(), a.batch, a.src_len, a.tgt_len),
              "decode_begin");
        check(ft5_session_decode_end(session), "decode_end");
    };
    auto timed = [&](const std::function<void()>& fn) {
        for (uint32_t i = 0; i < a.warmup; ++i) fn();
        std::vector<double> ts;
        for (uint32_t i = 0; i < a.steps; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            fn();
            ts.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ts.begin(), ts.end());
        return ts[ts.size() / 2];
    };

    const double train_ms = timed(train_step);
    const double gen_ms = timed(generate);
    const double enc_ms = timed(encode);
    ft5_memory_report mr{};
    mr.struct_size = sizeof(mr);
    check(ft5_device_memory_report(device, 0, &mr), "memory_report");
    const double rss = peak_rss_mib();
    const double train_tps = a.batch * double(a.src_len + a.tgt_len) / train_ms * 1e3;
    const double gen_tps = a.batch * double(a.tgt_len) / gen_ms * 1e3;
    const double per_token = (gen_ms - enc_ms) / a.tgt_len;

    std::printf("preset %s: %.2fM params, vocab %u, batch %u, src %u, tgt %u, threads %u (the engine's host "
                "threads, OpenBLAS 1 in each)\n",
                a.preset.c_str(), double(n_params) / 1e6, m.vocab_size, a.batch, a.src_len, a.tgt_len, a.threads);
    std::printf("train step (fwd+bwd+AdamW): median %.2f ms  (%.1f src+tgt tokens/s)\n", train_ms, train_tps);
    std::printf("greedy generate %u tokens (KV cache): median %.2f ms  (%.1f new tokens/s; encoder alone %.2f ms)\n",
                a.tgt_len, gen_ms, gen_tps, enc_ms);
    std::printf("peak RSS %.1f MiB (emulated IPU 0 on-chip peak %.1f MiB)\n", rss,
                double(mr.on_chip_peak_bytes) / (1024.0 * 1024.0));
    std::printf(
        "{\"impl\": \"ft5_native\", \"preset\": \"%s\", \"params\": %llu, \"vocab\": %u, \"batch\": %u, "
        "\"src_len\": %u, \"tgt_len\": %u, \"steps\": %u, \"warmup\": %u, \"dropout\": %g, \"host_cpus\": %u, "
        "\"threads\": %u, \"openblas_threads\": %u, \"train_step_ms\": %.2f, \"train_tokens_per_s\": %.1f, "
        "\"generate_ms\": %.2f, \"generate_tokens_per_s\": %.1f, \"encode_ms\": %.2f, \"decode_ms_per_token\": %.2f, "
        "\"peak_rss_mib\": %.1f, \"device_peak_mib\": %.1f}\n",
        a.preset.c_str(), (unsigned long long)n_params, m.vocab_size, a.batch, a.src_len, a.tgt_len, a.steps,
        a.warmup, double(a.dropout), std::thread::hardware_concurrency(), a.threads, 1u, train_ms, train_tps,
        gen_ms, gen_tps, enc_ms, per_token, rss, double(mr.on_chip_peak_bytes) / (1024.0 * 1024.0));
    ft5_session_destroy(session);
    ft5_device_destroy(device);
    return 0;
}
