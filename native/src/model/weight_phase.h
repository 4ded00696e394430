// Phased execution (plan->weights_location = FT5_MEMORY_STREAMING): weights and gradients live in each IPU's
// streaming memory. While a WeightPhase is alive, the parts of its parameters that one replica's IPUs hold
// work from on-chip copies (the weights copied in; with gradients, the gradients copied in, accumulated on chip
// and copied back when the phase ends). The model reads part.w() / part.g() as always, so the arithmetic is
// the same as with on-chip weights; every byte moved counts as streaming traffic. Parts already on chip (an
// on-chip plan, or an enclosing phase) are left alone.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ipu/device.h"
#include "ipu/device_buffer.h"
#include "model/parameter_table.h"

namespace ft5::model {

class WeightPhase {
public:
    enum class Mode {
        kForward,   // weights in
        kBackward,  // weights in; gradients in and back out
        kUpdate,    // weights in and back out; gradients in (the optimizer step)
    };
    WeightPhase(std::shared_ptr<ipu::Device> device, uint32_t replica, Mode mode,
                const std::vector<Parameter*>& params);
    ~WeightPhase();
    WeightPhase(const WeightPhase&) = delete;
    WeightPhase& operator=(const WeightPhase&) = delete;

private:
    struct Staged {
        ParamShard* part = nullptr;
        ipu::DeviceBuffer weight;  // the streaming-memory buffers, while the part works from on-chip copies
        ipu::DeviceBuffer grad;    // empty without gradients
    };
    void end() noexcept;

    std::shared_ptr<ipu::Device> device_;
    Mode mode_;
    std::vector<Staged> staged_;
};

}  // namespace ft5::model
