#pragma once
// Host instances of one engine (several processes under mpirun/poprun, each running some replicas of the
// global graph) and the exchange of collective inputs between them over MPI. Only an engine whose local
// replicas are not all of its replicas makes one; without MPI in the build, making one fails clearly.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace poplar_emulator {

class Instances {
public:
  // Checks with every other instance (collectively) that all build the same engine (fingerprint and
  // replication factor equal) and that their local ranges [first, first + count) cover the replicas in
  // instance order; then makes one communicator per group in `groups` that spans instances, in the
  // set's order on every instance. Throws poplar::poplar_error naming what differs.
  static std::unique_ptr<Instances> connect(unsigned replicationFactor, unsigned first, unsigned count,
                                            std::uint64_t fingerprint, const std::set<std::vector<unsigned>> &groups);
  virtual ~Instances() = default;

  // Whether the group's members live on more than one instance.
  virtual bool spans(const std::vector<unsigned> &group) const = 0;
  // Each instance sends `local` (the blocks of its members present here, in replica order, `blockBytes`
  // each); every instance receives all members' blocks in replica order, and the replicas they belong
  // to. Collective over the group's instances.
  virtual void allGather(const std::vector<unsigned> &group, const std::vector<unsigned> &localMembers,
                         const std::vector<unsigned char> &local, std::size_t blockBytes,
                         std::vector<unsigned char> &all, std::vector<unsigned> &allMembers) const = 0;
};

} // namespace poplar_emulator
