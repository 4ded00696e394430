// Every trainable tensor of the model under its Hugging Face name and shape, with its gradient and AdamW
// moments. A parameter is declared first (name, shape, shard dimension, pipeline stage); allocate() then
// checks every IPU's arena for the whole set before reserving anything, so a plan that does not fit fails
// when the session is built. Under tensor parallelism each tp rank holds its shard (or, for replicated
// tensors such as norms, its own copy); each replica holds all of them again on its own IPUs. The plan puts the
// moments (optimizer_location) and the weights and gradients (weights_location) on chip or in streaming memory;
// a weights-only plan (forward and decoding) allocates the weights alone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ft5/ft5.h"
#include "ipu/device.h"
#include "ipu/device_buffer.h"
#include "model/placement.h"

namespace ft5::model {

// One IPU's part of a parameter: its shard or its copy, with gradient and moments.
struct ParamShard {
    ipu::DeviceBuffer weight;
    ipu::DeviceBuffer grad;
    ipu::DeviceBuffer adam_m;
    ipu::DeviceBuffer adam_v;

    float* w() noexcept { return weight.as<float>().data(); }
    const float* w() const noexcept { return weight.as<float>().data(); }
    float* g() noexcept { return grad.as<float>().data(); }
    const float* g() const noexcept { return grad.as<float>().data(); }
    ipu::DeviceBuffer& slot(ft5_param_slot s);
    const ipu::DeviceBuffer& slot(ft5_param_slot s) const;
};

struct Parameter {
    std::string name;
    std::vector<int64_t> shape;  // HF shape, row-major
    int64_t count = 0;
    // Dimension a tensor-parallel plan splits (q/k/v/wi rows = heads or d_ff, o/wo columns, vocab rows);
    // -1 for replicated tensors (norms).
    int32_t shard_dim = -1;
    bool no_weight_decay = false;
    uint32_t stage = 0;
    uint32_t shards = 1;      // tp degree for sharded tensors, 1 for replicated ones
    uint32_t tp = 1;          // copies per replica (one per tp rank)
    uint32_t replicas = 1;
    int64_t padded_dim = 0;   // shape[shard_dim] padded to a multiple of shards; 0 when replicated
    std::vector<int64_t> shard_shape;
    int64_t shard_elems = 0;  // elements of one shard (or copy)
    std::vector<ParamShard> parts;  // [replica * tp + rank]

    ParamShard& at(uint32_t replica, uint32_t rank) { return parts[size_t(replica) * tp + rank]; }
    const ParamShard& at(uint32_t replica, uint32_t rank) const { return parts[size_t(replica) * tp + rank]; }
    bool sharded() const noexcept { return shards > 1; }
    // Rows (or columns, for shard_dim 1) of the logical tensor that shard `rank` holds: [begin, begin + len).
    int64_t shard_len() const noexcept { return sharded() ? padded_dim / shards : 0; }

    // Whole logical tensor <-> the shards of every replica (replica 0 for reads). Padding reads as zero.
    void write_logical(ft5_param_slot slot, const float* data);
    void read_logical(ft5_param_slot slot, float* data) const;
    void write_shard(uint32_t rank, ft5_param_slot slot, const float* data);
    void read_shard(uint32_t rank, ft5_param_slot slot, float* data) const;
};

class ParameterTable {
public:
    ParameterTable(std::shared_ptr<ipu::Device> device, const Placement& placement)
        : device_(std::move(device)), placement_(placement) {}

    // Declares a parameter on a pipeline stage; storage comes with allocate().
    Parameter& add(const std::string& name, std::vector<int64_t> shape, int32_t shard_dim, uint32_t stage);
    // Checks that every IPU can hold its weights, gradients and moments (FT5_ERR_OUT_OF_MEMORY naming the IPU,
    // the bytes needed and available, and its largest tensors), then allocates them all (zeroed).
    void allocate();

    size_t size() const noexcept { return params_.size(); }
    const std::shared_ptr<ipu::Device>& device() const noexcept { return device_; }
    Parameter& at(size_t i) { return *params_[i]; }
    const Parameter& at(size_t i) const { return *params_[i]; }
    // nullptr when absent.
    const Parameter* find(const std::string& name, size_t* index = nullptr) const;
    Parameter& get(const std::string& name);

private:
    std::shared_ptr<ipu::Device> device_;
    Placement placement_;
    // unique_ptr: references handed out by add() stay valid as the table grows.
    std::vector<std::unique_ptr<Parameter>> params_;
    std::unordered_map<std::string, size_t> index_;
};

}  // namespace ft5::model
