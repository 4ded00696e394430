#include "backends/backend.h"

namespace ft5::backends {

const Backend* emulator_backend() noexcept;
#ifdef FT5_HAVE_POPLAR
const Backend* poplar_backend() noexcept;
#endif

const Backend* find_backend(ft5_backend kind) noexcept {
    switch (kind) {
        case FT5_BACKEND_EMULATOR: return emulator_backend();
        case FT5_BACKEND_POPLAR:
#ifdef FT5_HAVE_POPLAR
            return poplar_backend();
#else
            return nullptr;
#endif
    }
    return nullptr;
}

}  // namespace ft5::backends
