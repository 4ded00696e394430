// ft5_device_*: open a backend's device, query it, report its memory and traffic.
#include <cstdint>
#include <string>

#include "abi/descriptor.h"
#include "abi/enum_value.h"
#include "abi/error.h"
#include "abi/handle_registry.h"
#include "abi/handles.h"
#include "backends/backend.h"

using ft5::abi::HandleKind;
using ft5::abi::checked;

namespace {

ft5::ipu::Topology validate_topology(const ft5_device_desc& d) {
    using ft5::invalid_argument;
    const int32_t backend = ft5::abi::enum_value(d.backend);
    if (backend != FT5_BACKEND_EMULATOR && backend != FT5_BACKEND_POPLAR && backend != FT5_BACKEND_IPU_MODEL) {
        invalid_argument("desc->backend " + std::to_string(backend) + " is not a known backend");
    }
    if (d.num_ipus == 0 || d.num_ipus > 4096) {
        invalid_argument("desc->num_ipus is " + std::to_string(d.num_ipus) + "; expected 1 to 4096");
    }
    if (d.tiles_per_ipu == 0) invalid_argument("desc->tiles_per_ipu is 0; expected at least 1");
    if (d.bytes_per_tile == 0) invalid_argument("desc->bytes_per_tile is 0; expected at least 1");
    if (d.bytes_per_tile > (uint64_t(1) << 40) / d.tiles_per_ipu) {
        invalid_argument("desc->tiles_per_ipu x desc->bytes_per_tile exceeds 1 TiB per IPU");
    }
    if (d.bytes_per_tile > UINT32_MAX) {  // poplar::IPUModel::memoryBytesPerTile is an unsigned
        invalid_argument("desc->bytes_per_tile is " + std::to_string(d.bytes_per_tile) + "; expected at most " +
                         std::to_string(UINT32_MAX));
    }
    if (!(d.clock_hz > 0)) invalid_argument("desc->clock_hz must be > 0");
    ft5::ipu::Topology t;
    t.backend = d.backend;
    t.num_ipus = d.num_ipus;
    t.tiles_per_ipu = d.tiles_per_ipu;
    t.bytes_per_tile = d.bytes_per_tile;
    t.streaming_bytes_per_ipu = d.streaming_bytes_per_ipu;
    t.clock_hz = d.clock_hz;
    t.num_threads = d.num_threads;
    return t;
}

}  // namespace

extern "C" {

ft5_status ft5_device_create(const ft5_device_desc* desc, ft5_device** out_device) {
    FT5_API_BEGIN
    ft5::abi::require_out(out_device, "out_device");
    *out_device = nullptr;
    const auto d = ft5::abi::read_desc(desc, ft5_device_desc_init, "desc");
    const auto topology = validate_topology(d);
    const auto* backend = ft5::backends::find_backend(d.backend);
    if (backend == nullptr || !backend->available()) {
#ifdef FT5_HAVE_POPLAR
        ft5::fail(FT5_ERR_BACKEND_UNAVAILABLE,
                  "backend emulator is not in this build: this libft5 was built against the Poplar SDK (backends "
                  "poplar and ipu-model); the emulator backend is in libft5 built without the SDK (-DFT5_POPLAR_SDK=OFF)");
#else
        ft5::fail(FT5_ERR_BACKEND_UNAVAILABLE,
                  std::string("backend ") + (d.backend == FT5_BACKEND_POPLAR ? "poplar" : "ipu-model") +
                      " is not in this build: this libft5 was built against the emulated SDK (the Poplar SDK was not "
                      "found at build time); use the emulator backend, or build against the SDK and point "
                      "FT5_NATIVE_PATH at that libft5");
#endif
    }
    auto handle = std::make_unique<ft5_device>();
    handle->device = backend->open(topology);
    ft5::abi::HandleRegistry::instance().add(handle.get(), HandleKind::Device);
    *out_device = handle.release();
    FT5_API_END
}

void ft5_device_destroy(ft5_device* device) {
    ft5::abi::clear_last_error();
    if (device == nullptr) return;
    // A pointer that is not a live device is left alone: destroy never fails and never dereferences it.
    if (!ft5::abi::HandleRegistry::instance().remove(device, HandleKind::Device)) return;
    delete device;  // NOLINT: the one place a handle created by make_unique().release() is freed
}

ft5_status ft5_device_get_desc(const ft5_device* device, ft5_device_desc* out_desc) {
    FT5_API_BEGIN
    const auto* d = checked(device, HandleKind::Device, "device");
    const auto& t = d->device->topology();
    ft5_device_desc desc;
    ft5_device_desc_init(&desc);
    desc.backend = t.backend;
    desc.num_ipus = t.num_ipus;
    desc.tiles_per_ipu = t.tiles_per_ipu;
    desc.bytes_per_tile = t.bytes_per_tile;
    desc.streaming_bytes_per_ipu = t.streaming_bytes_per_ipu;
    desc.clock_hz = t.clock_hz;
    desc.num_threads = t.num_threads;
    ft5::abi::write_desc(out_desc, desc, "out_desc");
    FT5_API_END
}

ft5_status ft5_device_memory_report(const ft5_device* device, uint32_t ipu, ft5_memory_report* out_report) {
    FT5_API_BEGIN
    const auto* d = checked(device, HandleKind::Device, "device");
    const auto& chip = d->device->arena(ipu, FT5_MEMORY_ON_CHIP);
    const auto& stream = d->device->arena(ipu, FT5_MEMORY_STREAMING);
    ft5_memory_report r{};
    r.struct_size = sizeof(r);
    r.ipu = ipu;
    r.on_chip_capacity_bytes = chip.capacity();
    r.on_chip_used_bytes = chip.used();
    r.on_chip_peak_bytes = chip.peak();
    r.streaming_capacity_bytes = stream.capacity();
    r.streaming_used_bytes = stream.used();
    r.streaming_peak_bytes = stream.peak();
    r.live_tensors = chip.live_allocations() + stream.live_allocations();
    ft5::abi::write_desc(out_report, r, "out_report");
    FT5_API_END
}

ft5_status ft5_device_reset_peaks(ft5_device* device) {
    FT5_API_BEGIN
    checked(device, HandleKind::Device, "device")->device->reset_peaks();
    FT5_API_END
}

ft5_status ft5_device_traffic_report(const ft5_device* device, ft5_traffic_report* out_report) {
    FT5_API_BEGIN
    const auto& t = checked(device, HandleKind::Device, "device")->device->traffic();
    ft5_traffic_report r{};
    r.struct_size = sizeof(r);
    r.inter_ipu_bytes = t.inter_ipu_bytes.load();
    r.streaming_bytes = t.streaming_bytes.load();
    r.collectives = t.collectives.load();
    r.estimated_cycles = t.estimated_cycles.load();
    ft5::abi::write_desc(out_report, r, "out_report");
    FT5_API_END
}

ft5_status ft5_device_reset_traffic(ft5_device* device) {
    FT5_API_BEGIN
    auto& t = checked(device, HandleKind::Device, "device")->device->traffic();
    t.inter_ipu_bytes = 0;
    t.streaming_bytes = 0;
    t.collectives = 0;
    t.estimated_cycles = 0;
    FT5_API_END
}

}  // extern "C"
