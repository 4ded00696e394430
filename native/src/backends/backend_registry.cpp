#include "backends/backend.h"

namespace ft5::backends {

// A build is against one SDK: the emulated one (the emulator backend) or Graphcore's (hardware and its IPUModel).
#ifdef FT5_HAVE_POPLAR
const Backend* poplar_backend() noexcept;
const Backend* ipu_model_backend() noexcept;
#else
const Backend* emulator_backend() noexcept;
#endif

const Backend* find_backend(ft5_backend kind) noexcept {
#ifdef FT5_HAVE_POPLAR
    switch (kind) {
        case FT5_BACKEND_POPLAR: return poplar_backend();
        case FT5_BACKEND_IPU_MODEL: return ipu_model_backend();
        case FT5_BACKEND_EMULATOR: return nullptr;
    }
#else
    switch (kind) {
        case FT5_BACKEND_EMULATOR: return emulator_backend();
        case FT5_BACKEND_POPLAR:
        case FT5_BACKEND_IPU_MODEL: return nullptr;
    }
#endif
    return nullptr;
}

}  // namespace ft5::backends
