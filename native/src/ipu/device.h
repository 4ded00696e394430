// The device the model builder is written against: a set of IPUs, each with an on-chip arena and a
// streaming-memory arena, plus traffic counters for collectives and streaming. Backends create it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ft5/ft5.h"
#include "ipu/memory_arena.h"

namespace ft5::ipu {

struct Topology {
    ft5_backend backend = FT5_BACKEND_EMULATOR;
    uint32_t num_ipus = 1;
    uint32_t tiles_per_ipu = 0;
    uint64_t bytes_per_tile = 0;
    uint64_t streaming_bytes_per_ipu = 0;
    double clock_hz = 0;
    uint32_t num_threads = 0;  // 0: one per hardware thread

    uint64_t on_chip_bytes_per_ipu() const noexcept { return uint64_t(tiles_per_ipu) * bytes_per_tile; }
    // The compute threads a session uses: num_threads, or the hardware's when 0.
    unsigned threads() const noexcept;
};

struct TrafficCounters {
    std::atomic<uint64_t> inter_ipu_bytes{0};
    std::atomic<uint64_t> streaming_bytes{0};
    std::atomic<uint64_t> collectives{0};
    std::atomic<uint64_t> estimated_cycles{0};
};

class Device {
public:
    explicit Device(const Topology& topology);
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const Topology& topology() const noexcept { return topology_; }
    uint32_t num_ipus() const noexcept { return topology_.num_ipus; }
    // Throws FT5_ERR_INVALID_ARGUMENT when ipu is out of range.
    MemoryArena& arena(uint32_t ipu, ft5_memory_location location);
    const MemoryArena& arena(uint32_t ipu, ft5_memory_location location) const;
    TrafficCounters& traffic() noexcept { return traffic_; }
    const TrafficCounters& traffic() const noexcept { return traffic_; }
    void reset_peaks() noexcept;

private:
    void check_ipu(uint32_t ipu) const;

    Topology topology_;
    std::vector<std::unique_ptr<MemoryArena>> on_chip_;
    std::vector<std::unique_ptr<MemoryArena>> streaming_;
    TrafficCounters traffic_;
};

}  // namespace ft5::ipu
