#include "model/parameter_table.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "abi/error.h"

namespace ft5::model {

ipu::DeviceBuffer& ParamShard::slot(ft5_param_slot s) {
    return const_cast<ipu::DeviceBuffer&>(static_cast<const ParamShard*>(this)->slot(s));
}

const ipu::DeviceBuffer& ParamShard::slot(ft5_param_slot s) const {
    switch (s) {
        case FT5_SLOT_WEIGHT: return weight;
        case FT5_SLOT_GRADIENT: return grad;
        case FT5_SLOT_ADAM_M: return adam_m;
        case FT5_SLOT_ADAM_V: return adam_v;
    }
    invalid_argument("slot " + std::to_string(int(s)) +
                     " is not a parameter slot (FT5_SLOT_WEIGHT, _GRADIENT, _ADAM_M or _ADAM_V)");
}

namespace {

// Copies between the logical tensor and shard `rank` (rank-major split of shard_dim, padded entries
// skipped). to_shard: logical -> shard, else shard -> logical.
void copy_shard(const Parameter& p, uint32_t rank, const float* src, float* dst, bool to_shard) {
    if (!p.sharded()) {
        std::memcpy(dst, src, size_t(p.count) * sizeof(float));
        return;
    }
    const int64_t len = p.shard_len(), begin = int64_t(rank) * len;
    if (p.shard_dim == 0) {
        const int64_t cols = p.count / p.shape[0];
        const int64_t rows = std::clamp<int64_t>(p.shape[0] - begin, 0, len);
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t logical = (begin + r) * cols, local = r * cols;
            if (to_shard) std::memcpy(dst + local, src + logical, size_t(cols) * 4);
            else std::memcpy(dst + logical, src + local, size_t(cols) * 4);
        }
    } else {  // shard_dim 1 of a matrix [rows, cols]; no padding (heads and d_ff divide by tp)
        const int64_t rows = p.shape[0], cols = p.shape[1];
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t logical = r * cols + begin, local = r * len;
            if (to_shard) std::memcpy(dst + local, src + logical, size_t(len) * 4);
            else std::memcpy(dst + logical, src + local, size_t(len) * 4);
        }
    }
}

}  // namespace

void Parameter::write_logical(ft5_param_slot slot, const float* data) {
    for (uint32_t rep = 0; rep < replicas; ++rep)
        for (uint32_t r = 0; r < tp; ++r)
            copy_shard(*this, sharded() ? r : 0, data, at(rep, r).slot(slot).as<float>().data(), true);
}

void Parameter::read_logical(ft5_param_slot slot, float* data) const {
    if (!sharded()) {
        copy_shard(*this, 0, at(0, 0).slot(slot).as<float>().data(), data, false);
        return;
    }
    for (uint32_t r = 0; r < shards; ++r) copy_shard(*this, r, at(0, r).slot(slot).as<float>().data(), data, false);
}

void Parameter::write_shard(uint32_t rank, ft5_param_slot slot, const float* data) {
    for (uint32_t rep = 0; rep < replicas; ++rep) {
        if (sharded()) {
            std::memcpy(at(rep, rank).slot(slot).data(), data, size_t(shard_elems) * 4);
        } else {
            for (uint32_t r = 0; r < tp; ++r) std::memcpy(at(rep, r).slot(slot).data(), data, size_t(shard_elems) * 4);
        }
    }
}

void Parameter::read_shard(uint32_t rank, ft5_param_slot slot, float* data) const {
    std::memcpy(data, at(0, sharded() ? rank : 0).slot(slot).data(), size_t(shard_elems) * 4);
}

Parameter& ParameterTable::add(const std::string& name, std::vector<int64_t> shape, int32_t shard_dim,
                               uint32_t stage) {
    auto p = std::make_unique<Parameter>();
    p->name = name;
    p->count = 1;
    for (int64_t d : shape) p->count *= d;
    p->shape = std::move(shape);
    p->shard_dim = shard_dim;
    p->no_weight_decay = name.find("norm") != std::string::npos || name.find("bias") != std::string::npos;
    p->stage = stage;
    p->tp = placement_.tp;
    p->replicas = placement_.replicas;
    p->shards = shard_dim >= 0 ? placement_.tp : 1;
    p->shard_shape = p->shape;
    if (shard_dim >= 0) {
        const int64_t dim = p->shape[size_t(shard_dim)];
        p->padded_dim = (dim + p->shards - 1) / p->shards * p->shards;
        p->shard_shape[size_t(shard_dim)] = p->padded_dim / p->shards;
    }
    p->shard_elems = 1;
    for (int64_t d : p->shard_shape) p->shard_elems *= d;
    index_.emplace(name, params_.size());
    params_.push_back(std::move(p));
    return *params_.back();
}

void ParameterTable::allocate() {
    // Per IPU: bytes of weights + gradients (+ both moments unless they stream), and which tensors they are;
    // streamed moments need their bytes in the IPU's streaming memory.
    const ft5_memory_location moments = placement_.optimizer_location;
    const ft5_memory_location weights = placement_.weights_location;  // streaming implies streaming moments
    // Copies of each tensor: weight, gradient, two moments; a weights-only session holds the weight alone.
    const uint64_t copies = placement_.weights_only ? 1 : 4;
    const uint64_t on_chip_copies = weights == FT5_MEMORY_STREAMING ? 0
                                    : placement_.weights_only       ? 1
                                    : moments == FT5_MEMORY_ON_CHIP ? 4
                                                                    : 2;
    std::map<uint32_t, uint64_t> need, need_streaming;
    std::map<uint32_t, std::vector<std::pair<uint64_t, const Parameter*>>> tensors;
    for (const auto& p : params_) {
        const uint64_t bytes = uint64_t(p->shard_elems) * sizeof(float);
        for (uint32_t rep = 0; rep < placement_.replicas; ++rep) {
            for (uint32_t r = 0; r < placement_.tp; ++r) {
                const uint32_t ipu = placement_.ipu(rep, p->stage, r);
                need[ipu] += on_chip_copies * bytes;
                need_streaming[ipu] += (copies - on_chip_copies) * bytes;
                tensors[ipu].emplace_back(bytes, p.get());
            }
        }
    }
    for (const auto& [ipu, bytes] : need) {
        const auto& arena = device_->arena(ipu, FT5_MEMORY_ON_CHIP);
        const uint64_t available = arena.capacity() - std::min(arena.capacity(), arena.used());
        if (bytes <= available) continue;
        auto& list = tensors[ipu];
        std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        std::string largest;
        for (size_t i = 0; i < list.size() && i < 3; ++i) {
            largest += (i ? ", " : "") + list[i].second->name + " (" + std::to_string(list[i].first) + " bytes x " +
                       std::to_string(on_chip_copies) + ")";
        }
        std::string msg = "IPU ";
        msg += std::to_string(ipu);
        msg += " cannot hold its part of the model: weights";
        if (!placement_.weights_only) msg += moments == FT5_MEMORY_ON_CHIP ? ", gradients and AdamW moments" : " and gradients";
        msg += " need ";
        msg += std::to_string(bytes) + " bytes, " + std::to_string(available) +
               " bytes are available; largest tensors: " + largest;
        msg += ". Split the model over more IPUs (tensor_parallel, pipeline_stages)";
        msg += placement_.weights_only ? " or stream the weights (weights_location: streaming memory)"
                                       : ", or move the AdamW moments (optimizer_location) or all parameter state "
                                         "(weights_location) to streaming memory";
        fail(FT5_ERR_OUT_OF_MEMORY, msg);
    }
    for (const auto& [ipu, bytes] : need_streaming) {
        const auto& arena = device_->arena(ipu, FT5_MEMORY_STREAMING);
        const uint64_t available = arena.capacity() - std::min(arena.capacity(), arena.used());
        if (bytes <= available) continue;
        std::string msg = "IPU ";
        msg += std::to_string(ipu);
        msg += " cannot hold its streamed parameter state in streaming memory: it needs ";
        msg += std::to_string(bytes) + " bytes, " + std::to_string(available) + " bytes are available";
        fail(FT5_ERR_OUT_OF_MEMORY, msg);
    }
    for (auto& p : params_) {
        const uint64_t bytes = uint64_t(p->shard_elems) * sizeof(float);
        p->parts.resize(size_t(placement_.replicas) * placement_.tp);
        for (uint32_t rep = 0; rep < placement_.replicas; ++rep) {
            for (uint32_t r = 0; r < placement_.tp; ++r) {
                const uint32_t ipu = placement_.ipu(rep, p->stage, r);
                std::string label = p->name;
                if (p->sharded()) label += " [shard " + std::to_string(r) + "]";
                if (placement_.replicas > 1) label += " [replica " + std::to_string(rep) + "]";
                ParamShard& s = p->at(rep, r);
                s.weight = ipu::DeviceBuffer(device_, ipu, weights, bytes, label);
                if (placement_.weights_only) continue;
                s.grad = ipu::DeviceBuffer(device_, ipu, weights, bytes, label + " (gradient)");
                s.adam_m = ipu::DeviceBuffer(device_, ipu, moments, bytes, label + " (adam m)");
                s.adam_v = ipu::DeviceBuffer(device_, ipu, moments, bytes, label + " (adam v)");
            }
        }
    }
}

const Parameter* ParameterTable::find(const std::string& name, size_t* index) const {
    const auto it = index_.find(name);
    if (it == index_.end()) return nullptr;
    if (index != nullptr) *index = it->second;
    return params_[it->second].get();
}

Parameter& ParameterTable::get(const std::string& name) {
    const auto it = index_.find(name);
    if (it == index_.end()) fail(FT5_ERR_INTERNAL, "parameter '" + name + "' was not built");
    return *params_[it->second];
}

}  // namespace ft5::model
