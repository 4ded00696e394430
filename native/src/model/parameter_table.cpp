#include "model/parameter_table.h"

#include "abi/error.h"

namespace ft5::model {

ipu::DeviceBuffer& Parameter::slot(ft5_param_slot s) {
    return const_cast<ipu::DeviceBuffer&>(static_cast<const Parameter*>(this)->slot(s));
}

const ipu::DeviceBuffer& Parameter::slot(ft5_param_slot s) const {
    switch (s) {
        case FT5_SLOT_WEIGHT: return weight;
        case FT5_SLOT_GRADIENT: return grad;
        case FT5_SLOT_ADAM_M: return adam_m;
        case FT5_SLOT_ADAM_V: return adam_v;
    }
    invalid_argument("slot " + std::to_string(int(s)) +
                     " is not a parameter slot (FT5_SLOT_WEIGHT, _GRADIENT, _ADAM_M or _ADAM_V)");
}

Parameter& ParameterTable::add(const std::string& name, std::vector<int64_t> shape, int32_t shard_dim) {
    auto p = std::make_unique<Parameter>();
    p->name = name;
    p->count = 1;
    for (int64_t d : shape) p->count *= d;
    p->shape = std::move(shape);
    p->shard_dim = shard_dim;
    p->no_weight_decay = name.find("norm") != std::string::npos || name.find("bias") != std::string::npos;
    const uint64_t bytes = uint64_t(p->count) * sizeof(float);
    p->weight = ipu::DeviceBuffer(device_, ipu_, FT5_MEMORY_ON_CHIP, bytes, name);
    p->grad = ipu::DeviceBuffer(device_, ipu_, FT5_MEMORY_ON_CHIP, bytes, name + " (gradient)");
    p->adam_m = ipu::DeviceBuffer(device_, ipu_, FT5_MEMORY_ON_CHIP, bytes, name + " (adam m)");
    p->adam_v = ipu::DeviceBuffer(device_, ipu_, FT5_MEMORY_ON_CHIP, bytes, name + " (adam v)");
    index_.emplace(name, params_.size());
    params_.push_back(std::move(p));
    return *params_.back();
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
