// The instances (host processes) of one run launched by mpirun or poprun, as the host sees them: their
// number, this one's index, and the few collectives the host needs to coordinate them (evaluation counts,
// agreement on what to do next). The emulated engine's collectives between replicas are elsewhere
// (native/emulator/src/core/Instances.*); both go over the same MPI world.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ft5::instances {

// Joins the other instances: initialises MPI unless the program (or the emulator) already did, and gives
// this instance's index and the instance count of MPI_COMM_WORLD. Joining again gives the same answer.
void join(std::int32_t& index, std::int32_t& count);

// Every instance gives `block_bytes` bytes (the same number on every instance); `out` receives every
// instance's block in index order (count * block_bytes bytes), and it returns true. When not every
// instance has reached the gather within `timeout_ms` (0: no limit) it returns false and the gather stays
// pending: another gather is refused, leave() completes it first, abort_all() is the way on.
bool all_gather(const void* block, std::size_t block_bytes, void* out, std::size_t out_bytes, std::uint32_t timeout_ms);

// Ends every instance of the run with `exit_code` (MPI_Abort over the world). Does nothing before join().
void abort_all(std::int32_t exit_code) noexcept;

// Leaves: completes a pending gather, then finalises MPI when join() initialised it. Collective.
void leave();

}  // namespace ft5::instances
