#include "session/attached_device.h"

#include <string>
#include <vector>

#include <poplar/DeviceManager.hpp>
#include <poplar/IPUModel.hpp>
#include <poplar/TargetType.hpp>

#include "abi/error.h"

namespace ft5::session {

namespace {

poplar::Device ipu_model(const ipu::Topology& topology, std::size_t ipus) {
    poplar::IPUModel model;
    model.numIPUs = unsigned(ipus);
    // A session sized beyond one GC200 (a benchmark of a model larger than on-chip memory) says so in its topology.
    if (topology.tiles_per_ipu != 0) model.tilesPerIPU = topology.tiles_per_ipu;
    if (topology.bytes_per_tile != 0) model.memoryBytesPerTile = unsigned(topology.bytes_per_tile);
    poplar::Device d = model.createDevice();
    d.attach();
    return d;
}

// The first device of exactly `ipus` IPUs that attaches (another process may hold the others).
poplar::Device hardware(std::size_t ipus) {
    const auto manager = poplar::DeviceManager::createDeviceManager();
    std::vector<poplar::Device> devices = manager.getDevices(poplar::TargetType::IPU, unsigned(ipus));
    for (poplar::Device& d : devices)
        if (d.attach()) return std::move(d);
    fail(FT5_ERR_BACKEND_UNAVAILABLE,
         "backend poplar: no free device of " + std::to_string(ipus) + " IPUs (replicas x IPUs per replica); " +
             std::to_string(devices.size()) + " such device(s) exist, all attached elsewhere or none (gc-info -l "
             "lists the partition's devices)");
}

}  // namespace

poplar::Device attached_device(const ipu::Topology& topology, std::size_t ipus) {
    if (topology.backend == FT5_BACKEND_POPLAR) return hardware(ipus);
    return ipu_model(topology, ipus);
}

}  // namespace ft5::session
