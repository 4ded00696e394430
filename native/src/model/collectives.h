// The collectives of the emulator: the arithmetic of an all-reduce or an inter-IPU copy over buffers held
// by the host, with the bytes each would move over IPU-Links counted in the device's traffic counters.
// A ring all-reduce over g IPUs moves 2 (g - 1) / g x bytes per IPU, so 2 (g - 1) x bytes over the group.
#pragma once

#include <cstdint>
#include <memory>

#include "ipu/device.h"

namespace ft5::model {

class Collectives {
public:
    explicit Collectives(std::shared_ptr<ipu::Device> device) : device_(std::move(device)) {}

    // dst = sum over the group; dst holds one rank's part, `parts` the others' (n floats each).
    void all_reduce_sum(float* dst, const float* const* parts, uint32_t num_parts, int64_t n) const;
    // Counts an all-reduce (sum or max) of n floats over `group` IPUs whose arithmetic the caller did.
    void count_all_reduce(uint32_t group, int64_t n) const;
    // Counts a gather of n floats spread over `group` IPUs to one of them.
    void count_gather(uint32_t group, int64_t n) const;
    // Counts a copy of n floats from one IPU to another (pipeline activations).
    void count_copy(int64_t n, uint32_t copies = 1) const;

private:
    std::shared_ptr<ipu::Device> device_;
};

}  // namespace ft5::model
