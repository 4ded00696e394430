#include "model/session.h"

#include <cblas.h>
#include <malloc.h>

#include <cstring>

#include "model/adamw.h"

namespace ft5::model {

Session::Session(std::shared_ptr<ipu::Device> device, const ModelConfig& config, const Placement& placement)
    : device_(std::move(device)) {
    const unsigned threads = device_->topology().threads();
    // OpenBLAS keeps one process-wide thread count; the device's setting is the one in force.
    openblas_set_num_threads(int(threads));
    // Activations are allocated and freed by every call. With glibc's default (dynamic) thresholds large
    // blocks go back to the kernel when freed and the next call page-faults them in again, which cost a
    // third of a small model's training step; keeping freed blocks in the heap removes that.
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    model_ = std::make_unique<T5Model>(config, device_, placement, threads);
}

void Session::zero_gradients() {
    auto& params = model_->params();
    for (size_t i = 0; i < params.size(); ++i) {
        for (ParamShard& part : params.at(i).parts) {
            // Gradients kept in streaming memory (phased execution) are zeroed over the streaming link.
            if (part.grad.location() == FT5_MEMORY_STREAMING) device_->traffic().streaming_bytes += part.grad.bytes();
            float* g = part.g();
            model_->pool().parallel_for(size_t(params.at(i).shard_elems), [&](size_t a, size_t b) {
                std::memset(g + a, 0, (b - a) * sizeof(float));
            }, 1 << 16);
        }
    }
}

ft5_step_result Session::optimizer_step(const ft5_optimizer_step& step) {
    const ft5_step_result result = adamw_step(model_->pool(), model_->params(), step);
    // The squared-norm partial sums of the tp ranks and pipeline stages are all-reduced (one scalar).
    const auto& pl = model_->placement();
    model_->collectives().count_all_reduce(pl.tp * pl.pp, 1);
    return result;
}

void Session::decode_begin(const int32_t* ids, const int32_t* mask, int64_t batch, int64_t src_len,
                           int64_t max_steps) {
    decode_.reset();  // free the previous cache before allocating the new one
    decode_ = std::make_unique<IncrementalDecoder>(*model_, ids, mask, batch, src_len, max_steps);
}

}  // namespace ft5::model
