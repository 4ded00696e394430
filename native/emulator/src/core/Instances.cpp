#include "core/Instances.hpp"

#include <poplar/exceptions.hpp>

#ifdef POPLAR_EMULATOR_MPI
#include <climits>
#include <map>

#include <mpi.h>
#endif

namespace poplar_emulator {

#ifndef POPLAR_EMULATOR_MPI

std::unique_ptr<Instances> Instances::connect(unsigned replicationFactor, unsigned first, unsigned count, std::uint64_t,
                                              const std::set<std::vector<unsigned>> &) {
  throw poplar::poplar_error("poplar::Engine: target.firstRuntimeReplica=" + std::to_string(first) +
                             " and target.numberRuntimeReplica=" + std::to_string(count) + " run only some of the " +
                             std::to_string(replicationFactor) +
                             " replicas here, which needs the other instances over MPI, but this emulator was built "
                             "without MPI");
}

#else

namespace {

void check(int rc, const std::string &what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw poplar::poplar_error("poplar::Engine: MPI " + what + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

// MPI is initialised by the program (libft5, or a test) or else here; it is finalised at exit only when
// it was initialised here.
struct MpiSession {
  MpiSession() {
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      ownsInit = true;
    }
  }
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (ownsInit && !finalized) MPI_Finalize();
  }
  bool ownsInit = false;
};

void ensureMpi() { static MpiSession session; }

// A communicator freed when the engine goes (unless MPI is already finalised).
struct Comm {
  MPI_Comm comm = MPI_COMM_NULL;
  Comm() = default;
  Comm(const Comm &) = delete;
  Comm &operator=(const Comm &) = delete;
  ~Comm() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm);
  }
};

class MpiInstances : public Instances {
public:
  MpiInstances(unsigned rf, unsigned first, unsigned count, std::uint64_t fingerprint) {
    ensureMpi();
    // A duplicate of the world, so errors come back as codes without changing the program's own handler.
    check(MPI_Comm_dup(MPI_COMM_WORLD, &world_.comm), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(world_.comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    int rank = 0, size = 0;
    check(MPI_Comm_rank(world_.comm, &rank), "MPI_Comm_rank");
    check(MPI_Comm_size(world_.comm, &size), "MPI_Comm_size");
    unsigned long long mine[4] = {rf, first, count, fingerprint};
    std::vector<unsigned long long> all(4 * static_cast<std::size_t>(size));
    check(MPI_Allgather(mine, 4, MPI_UNSIGNED_LONG_LONG, all.data(), 4, MPI_UNSIGNED_LONG_LONG, world_.comm), "MPI_Allgather");
    // Every instance sees the same table, so every instance throws the same error.
    unsigned next = 0;
    for (int i = 0; i < size; ++i) {
      const unsigned long long *row = &all[4 * static_cast<std::size_t>(i)];
      std::string who = "instance " + std::to_string(i) + " of " + std::to_string(size);
      if (row[0] != rf || row[3] != all[3])
        throw poplar::poplar_error("poplar::Engine: the instances build different engines: " + who + " has replication factor " +
                                   std::to_string(row[0]) + " and graph fingerprint " + std::to_string(row[3]) +
                                   ", instance 0 has " + std::to_string(all[0]) + " and " + std::to_string(all[3]) +
                                   " (every instance must build the same global graph and programs)");
      if (row[1] != next || row[2] == 0)
        throw poplar::poplar_error("poplar::Engine: " + who + " runs replicas [" + std::to_string(row[1]) + ", " +
                                   std::to_string(row[1] + row[2]) + ") but the next replica to run is " +
                                   std::to_string(next) +
                                   " (instances must run consecutive, non-empty ranges of replicas in rank order)");
      next += static_cast<unsigned>(row[2]);
      for (unsigned r = static_cast<unsigned>(row[1]); r < next && r < rf; ++r) host_.push_back(i);
    }
    if (next != rf)
      throw poplar::poplar_error("poplar::Engine: the " + std::to_string(size) + " instances run " + std::to_string(next) +
                                 " replicas but the graph has " + std::to_string(rf));
    rank_ = rank;
  }

  void addGroup(const std::vector<unsigned> &group) {
    bool member = false;
    for (unsigned r : group) member = member || host_.at(r) == rank_;
    auto c = std::make_unique<Comm>();
    // Collective over the world: every instance calls this for the same groups in the same order.
    check(MPI_Comm_split(world_.comm, member ? 0 : MPI_UNDEFINED, rank_, &c->comm), "MPI_Comm_split");
    if (member) {
      check(MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
      comms_[group] = std::move(c);
    }
  }

  bool spans(const std::vector<unsigned> &group) const override {
    for (unsigned r : group)
      if (host_.at(r) != host_.at(group.front())) return true;
    return false;
  }

  void allGather(const std::vector<unsigned> &group, const std::vector<unsigned> &localMembers,
                 const std::vector<unsigned char> &local, std::size_t blockBytes, std::vector<unsigned char> &all,
                 std::vector<unsigned> &allMembers) const override {
    auto it = comms_.find(group);
    if (it == comms_.end()) throw poplar::poplar_error("poplar::Engine: no communicator for a collective's replica group");
    MPI_Comm comm = it->second->comm;
    int size = 0;
    check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
    // First who is present on each instance, so a group some of whose replicas did not reach the
    // collective fails the same way everywhere.
    std::vector<int> counts(static_cast<std::size_t>(size));
    int mine = static_cast<int>(localMembers.size());
    check(MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
    std::vector<int> offsets(counts.size());
    int total = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      offsets[i] = total;
      total += counts[i];
    }
    allMembers.assign(static_cast<std::size_t>(total), 0);
    std::vector<int> members(localMembers.begin(), localMembers.end());
    check(MPI_Allgatherv(members.data(), mine, MPI_INT, reinterpret_cast<int *>(allMembers.data()), counts.data(),
                         offsets.data(), MPI_INT, comm),
          "MPI_Allgatherv");
    if (allMembers.size() != group.size())
      throw poplar::poplar_error("a gcl collective ran on only " + std::to_string(allMembers.size()) + " of the " +
                                 std::to_string(group.size()) + " replicas of its group");
    // The blocks travel as a contiguous type of blockBytes bytes, so counts stay within int.
    MPI_Datatype block;
    if (blockBytes > static_cast<std::size_t>(INT_MAX))
      throw poplar::poplar_error("poplar::Engine: a collective's input of " + std::to_string(blockBytes) +
                                 " bytes per replica is too large for one MPI message");
    check(MPI_Type_contiguous(static_cast<int>(blockBytes), MPI_BYTE, &block), "MPI_Type_contiguous");
    int rc = MPI_Type_commit(&block);
    if (rc == MPI_SUCCESS) {
      all.resize(blockBytes * static_cast<std::size_t>(total));
      rc = MPI_Allgatherv(local.data(), mine, block, all.data(), counts.data(), offsets.data(), block, comm);
    }
    MPI_Type_free(&block);
    check(rc, "MPI_Type_commit / MPI_Allgatherv");
  }

private:
  Comm world_;
  int rank_ = 0;
  std::vector<int> host_; // instance of each replica
  std::map<std::vector<unsigned>, std::unique_ptr<Comm>> comms_;
};

} // namespace

std::unique_ptr<Instances> Instances::connect(unsigned replicationFactor, unsigned first, unsigned count,
                                              std::uint64_t fingerprint, const std::set<std::vector<unsigned>> &groups) {
  auto instances = std::make_unique<MpiInstances>(replicationFactor, first, count, fingerprint);
  for (const auto &g : groups)
    if (instances->spans(g)) instances->addGroup(g);
  return instances;
}

#endif

} // namespace poplar_emulator
