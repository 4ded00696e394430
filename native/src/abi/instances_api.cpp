// Exports for the host instances of a run (mpirun / poprun): join, gather, abort, leave.
#include "abi/error.h"
#include "ft5/ft5.h"
#include "instances/host_instances.h"

extern "C" {

ft5_status ft5_instances_join(int32_t* out_index, int32_t* out_count) {
    FT5_API_BEGIN
    if (out_index == nullptr || out_count == nullptr) ft5::invalid_argument("ft5_instances_join: out_index and out_count must not be NULL");
    ft5::instances::join(*out_index, *out_count);
    FT5_API_END
}

ft5_status ft5_instances_all_gather(const void* block, size_t block_bytes, void* out, size_t out_bytes, uint32_t timeout_ms,
                                    int32_t* out_completed) {
    FT5_API_BEGIN
    if (out_completed == nullptr) ft5::invalid_argument("ft5_instances_all_gather: out_completed must not be NULL");
    *out_completed = 0;
    *out_completed = ft5::instances::all_gather(block, block_bytes, out, out_bytes, timeout_ms) ? 1 : 0;
    FT5_API_END
}

void ft5_instances_abort(int32_t exit_code) { ft5::instances::abort_all(exit_code); }

ft5_status ft5_instances_leave(void) {
    FT5_API_BEGIN
    ft5::instances::leave();
    FT5_API_END
}

}  // extern "C"
