// The emulator backend: IPUs modelled on the CPU. Arithmetic runs on the host (OpenBLAS); memory
// capacity, streaming memory and inter-IPU traffic are accounted per IPU by ipu::Device.
#include "backends/backend.h"

namespace ft5::backends {
namespace {

class EmulatorBackend final : public Backend {
public:
    const char* name() const noexcept override { return "emulator"; }
    bool available() const noexcept override { return true; }
    std::shared_ptr<ipu::Device> open(const ipu::Topology& topology) const override {
        return std::make_shared<ipu::Device>(topology);
    }
};

}  // namespace

const Backend* emulator_backend() noexcept {
    static const EmulatorBackend backend;
    return &backend;
}

}  // namespace ft5::backends
