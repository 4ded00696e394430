#include "instances/host_instances.h"

#include <string>

#include "abi/error.h"

#ifdef FT5_HAVE_MPI
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <mpi.h>
#endif

namespace ft5::instances {

#ifndef FT5_HAVE_MPI

void join(std::int32_t&, std::int32_t&) {
    fail(FT5_ERR_NOT_SUPPORTED,
         "a launch of several instances needs MPI, but libft5 was built without it: install Open MPI "
         "(libopenmpi-dev, `build.ps1 bootstrap` does) and build libft5 again");
}

bool all_gather(const void*, std::size_t, void*, std::size_t, std::uint32_t) {
    fail(FT5_ERR_NOT_SUPPORTED, "instances: libft5 was built without MPI");
}

void abort_all(std::int32_t) noexcept {}

void leave() {}

#else

namespace {

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(rc, text, &length);
    fail(FT5_ERR_INTERNAL, std::string("instances: ") + what + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

// The host's view of the world: a duplicate of MPI_COMM_WORLD whose errors come back as codes, and the one
// gather that may still be in flight after a timeout, with the buffers MPI still reads and writes.
struct World {
    std::mutex mutex;
    bool joined = false;
    bool owns_init = false;
    MPI_Comm comm = MPI_COMM_NULL;
    int rank = 0;
    int size = 1;
    MPI_Request pending = MPI_REQUEST_NULL;
    std::vector<unsigned char> send;
    std::vector<unsigned char> receive;
};

World& world() {
    static World w;
    return w;
}

void require_joined(const World& w) {
    if (!w.joined) fail(FT5_ERR_INVALID_ARGUMENT, "instances: ft5_instances_join has not been called");
}

}  // namespace

void join(std::int32_t& index, std::int32_t& count) {
    World& w = world();
    std::lock_guard lock(w.mutex);
    if (!w.joined) {
        int finalized = 0;
        check(MPI_Finalized(&finalized), "MPI_Finalized");
        if (finalized) fail(FT5_ERR_INVALID_ARGUMENT, "instances: MPI is already finalised (ft5_instances_leave was called); it cannot start again");
        int ready = 0;
        check(MPI_Initialized(&ready), "MPI_Initialized");
        if (!ready) {
            // Serialised: the host may call from any thread, one call at a time.
            int provided = 0;
            check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
            w.owns_init = true;
            if (provided < MPI_THREAD_SERIALIZED)
                fail(FT5_ERR_NOT_SUPPORTED, "instances: this MPI does not allow calls from several threads (MPI_THREAD_SERIALIZED)");
        }
        check(MPI_Comm_dup(MPI_COMM_WORLD, &w.comm), "MPI_Comm_dup");
        check(MPI_Comm_set_errhandler(w.comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
        check(MPI_Comm_rank(w.comm, &w.rank), "MPI_Comm_rank");
        check(MPI_Comm_size(w.comm, &w.size), "MPI_Comm_size");
        w.joined = true;
    }
    index = w.rank;
    count = w.size;
}

bool all_gather(const void* block, std::size_t block_bytes, void* out, std::size_t out_bytes, std::uint32_t timeout_ms) {
    World& w = world();
    std::lock_guard lock(w.mutex);
    require_joined(w);
    if (w.pending != MPI_REQUEST_NULL)
        fail(FT5_ERR_INVALID_ARGUMENT, "instances: an earlier gather timed out and is still pending; the run must stop (ft5_instances_abort)");
    if (block == nullptr && block_bytes > 0) invalid_argument("instances: block is NULL");
    if (out == nullptr && out_bytes > 0) invalid_argument("instances: out is NULL");
    if (block_bytes > static_cast<std::size_t>(INT32_MAX))
        invalid_argument("instances: block_bytes " + std::to_string(block_bytes) + " exceeds the largest MPI count " + std::to_string(INT32_MAX));
    const std::size_t total = block_bytes * static_cast<std::size_t>(w.size);
    if (out_bytes != total)
        invalid_argument("instances: out_bytes is " + std::to_string(out_bytes) + "; expected " + std::to_string(w.size) +
                         " instances x " + std::to_string(block_bytes) + " bytes = " + std::to_string(total));
    // Copies MPI owns until the gather completes, which after a timeout is later than this call.
    const auto* bytes = static_cast<const unsigned char*>(block);
    w.send.assign(bytes, bytes + block_bytes);
    w.receive.assign(total, 0);
    const int n = static_cast<int>(block_bytes);
    check(MPI_Iallgather(w.send.data(), n, MPI_BYTE, w.receive.data(), n, MPI_BYTE, w.comm, &w.pending), "MPI_Iallgather");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        int done = 0;
        check(MPI_Test(&w.pending, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (done) break;
        if (timeout_ms > 0 && std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (total > 0) std::memcpy(out, w.receive.data(), total);
    return true;
}

void abort_all(std::int32_t exit_code) noexcept {
    World& w = world();
    if (!w.joined) return;
    MPI_Abort(w.comm, exit_code);
}

void leave() {
    World& w = world();
    std::lock_guard lock(w.mutex);
    if (!w.joined) return;
    if (w.pending != MPI_REQUEST_NULL) check(MPI_Wait(&w.pending, MPI_STATUS_IGNORE), "MPI_Wait");
    check(MPI_Comm_free(&w.comm), "MPI_Comm_free");
    w.joined = false;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (w.owns_init && !finalized) check(MPI_Finalize(), "MPI_Finalize");
    w.owns_init = false;
}

#endif

}  // namespace ft5::instances
