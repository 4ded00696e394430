// Every trainable tensor of the model under its Hugging Face name and shape, with its gradient and AdamW
// moments. All four buffers live in IPU 0's on-chip arena, so the memory report counts them and a
// device that is too small fails when the session is built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ft5/ft5.h"
#include "ipu/device.h"
#include "ipu/device_buffer.h"

namespace ft5::model {

struct Parameter {
    std::string name;
    std::vector<int64_t> shape;  // HF shape, row-major
    int64_t count = 0;
    // Dimension a tensor-parallel plan splits (q/k/v/wi rows = heads or d_ff, o/wo columns, vocab rows);
    // -1 for replicated tensors (norms).
    int32_t shard_dim = -1;
    bool no_weight_decay = false;
    ipu::DeviceBuffer weight;
    ipu::DeviceBuffer grad;
    ipu::DeviceBuffer adam_m;
    ipu::DeviceBuffer adam_v;

    float* w() noexcept { return weight.as<float>().data(); }
    const float* w() const noexcept { return weight.as<float>().data(); }
    float* g() noexcept { return grad.as<float>().data(); }
    ipu::DeviceBuffer& slot(ft5_param_slot s);
    const ipu::DeviceBuffer& slot(ft5_param_slot s) const;
};

class ParameterTable {
public:
    ParameterTable(std::shared_ptr<ipu::Device> device, uint32_t ipu) : device_(std::move(device)), ipu_(ipu) {}

    // Allocates weight, gradient and both moments (zeroed). Throws FT5_ERR_OUT_OF_MEMORY when the arena is full.
    Parameter& add(const std::string& name, std::vector<int64_t> shape, int32_t shard_dim);

    size_t size() const noexcept { return params_.size(); }
    Parameter& at(size_t i) { return *params_[i]; }
    const Parameter& at(size_t i) const { return *params_[i]; }
    // nullptr when absent.
    const Parameter* find(const std::string& name, size_t* index = nullptr) const;
    Parameter& get(const std::string& name);

private:
    std::shared_ptr<ipu::Device> device_;
    uint32_t ipu_;
    // unique_ptr: references handed out by add() stay valid as the table grows.
    std::vector<std::unique_ptr<Parameter>> params_;
    std::unordered_map<std::string, size_t> index_;
};

}  // namespace ft5::model
