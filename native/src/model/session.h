// model::Session: what an ft5_session handle owns: the T5 model placed on the device's IPUs, its optimizer,
// and the decode in progress.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "ipu/device.h"
#include "model/incremental_decoder.h"
#include "model/model_config.h"
#include "model/t5_model.h"

namespace ft5::model {

class Session {
public:
    Session(std::shared_ptr<ipu::Device> device, const ModelConfig& config, const Placement& placement);

    T5Model& model() noexcept { return *model_; }
    const T5Model& model() const noexcept { return *model_; }
    void zero_gradients();
    ft5_step_result optimizer_step(const ft5_optimizer_step& step);

    IncrementalDecoder* decode() noexcept { return decode_ ? decode_.get() : nullptr; }
    void decode_begin(const int32_t* ids, const int32_t* mask, int64_t batch, int64_t src_len, int64_t max_steps);
    void decode_end() noexcept { decode_.reset(); }

private:
    std::shared_ptr<ipu::Device> device_;
    std::unique_ptr<T5Model> model_;
    std::unique_ptr<IncrementalDecoder> decode_;
};

}  // namespace ft5::model
