#include "model/weight_phase.h"

#include <cstring>
#include <unordered_set>
#include <utility>

namespace ft5::model {
namespace {

// An on-chip copy of a streaming buffer on the same IPU.
ipu::DeviceBuffer stage_in(const std::shared_ptr<ipu::Device>& device, const ipu::DeviceBuffer& streaming) {
    ipu::DeviceBuffer chip(device, streaming.ipu(), FT5_MEMORY_ON_CHIP, streaming.bytes(),
                           streaming.name() + " (phase)");
    if (streaming.bytes() != 0) std::memcpy(chip.data(), streaming.data(), size_t(streaming.bytes()));
    device->traffic().streaming_bytes += streaming.bytes();
    return chip;
}

}  // namespace

WeightPhase::WeightPhase(std::shared_ptr<ipu::Device> device, uint32_t replica, Mode mode,
                         const std::vector<Parameter*>& params)
    : device_(std::move(device)), mode_(mode) {
    std::unordered_set<const Parameter*> seen;
    try {
        for (Parameter* p : params) {
            if (p == nullptr || !seen.insert(p).second) continue;
            for (uint32_t r = 0; r < p->tp; ++r) {
                ParamShard& part = p->at(replica, r);
                if (part.weight.location() != FT5_MEMORY_STREAMING) continue;
                Staged s;
                s.part = &part;
                s.weight = stage_in(device_, part.weight);
                std::swap(s.weight, part.weight);
                if (mode_ != Mode::kForward) {
                    staged_.push_back(std::move(s));
                    Staged& t = staged_.back();
                    t.grad = stage_in(device_, part.grad);
                    std::swap(t.grad, part.grad);
                } else {
                    staged_.push_back(std::move(s));
                }
            }
        }
    } catch (...) {
        end();
        throw;
    }
}

WeightPhase::~WeightPhase() { end(); }

void WeightPhase::end() noexcept {
    for (auto it = staged_.rbegin(); it != staged_.rend(); ++it) {
        ParamShard& part = *it->part;
        if (mode_ == Mode::kUpdate) {
            std::memcpy(it->weight.data(), part.weight.data(), size_t(it->weight.bytes()));
            device_->traffic().streaming_bytes += it->weight.bytes();
        }
        std::swap(it->weight, part.weight);
        if (it->grad.bytes() != 0 && mode_ == Mode::kBackward) {
            // The gradient accumulated on chip goes back to streaming memory.
            std::memcpy(it->grad.data(), part.grad.data(), size_t(it->grad.bytes()));
            device_->traffic().streaming_bytes += it->grad.bytes();
        }
        if (it->grad.bytes() != 0) std::swap(it->grad, part.grad);
    }
    staged_.clear();
}

}  // namespace ft5::model
