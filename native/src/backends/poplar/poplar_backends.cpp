// The Poplar SDK's two targets: IPU hardware attached through DeviceManager (POPLAR) and the SDK's IPUModel
// (IPU_MODEL). The session attaches the poplar::Device when it compiles its engine (session/attached_device.cpp);
// the ipu::Device opened here is the ledger of what the session places on each IPU.
#include "backends/backend.h"

#ifndef FT5_HAVE_POPLAR
#error "backends/poplar is compiled only into the Poplar SDK build (FT5_HAVE_POPLAR)"
#endif

namespace ft5::backends {
namespace {

class PoplarSdkBackend final : public Backend {
public:
    explicit PoplarSdkBackend(const char* name) : name_(name) {}
    const char* name() const noexcept override { return name_; }
    bool available() const noexcept override { return true; }
    std::shared_ptr<ipu::Device> open(const ipu::Topology& topology) const override {
        return std::make_shared<ipu::Device>(topology);
    }

private:
    const char* name_;
};

}  // namespace

const Backend* poplar_backend() noexcept {
    static const PoplarSdkBackend backend("poplar");
    return &backend;
}

const Backend* ipu_model_backend() noexcept {
    static const PoplarSdkBackend backend("ipu-model");
    return &backend;
}

}  // namespace ft5::backends
