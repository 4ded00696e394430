// Pipeline stages as Poplar expresses them: a replica holds pp IPUs, and stage s is IPU s of the replica, a
// virtual graph of its tiles. Each stage's layers are built on its graph (their variables and activations map to
// its tiles), and a tensor reaches the next stage through an explicit Copy (an exchange over the IPU links).
// A micro-batch's pass is a chain of segments, each the consecutive work of one stage; the step's program puts the
// segments of its micro-batches in the pipeline schedule's order (pipeline_schedule.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <poplar/Graph.hpp>
#include <poplar/Program.hpp>
#include <poplar/Tensor.hpp>

namespace ft5::t5 {

// A tensor and the stage whose tiles hold it.
struct Staged {
    poplar::Tensor tensor;
    std::size_t stage = 0;
};

// One pass of one micro-batch through the stages: the segments in the order their work was built.
class SegmentChain {
public:
    // The program of the work on `stage` that follows: the last segment's when it is on that stage, else a new one.
    poplar::program::Sequence& on(std::size_t stage);

    std::size_t size() const { return segments_.size(); }
    std::size_t stage(std::size_t k) const { return segments_.at(k).first; }
    const poplar::program::Sequence& segment(std::size_t k) const { return segments_.at(k).second; }
    std::vector<std::uint32_t> stages() const;
    // The tensors segment k copied in from other stages (Stages::to), each with the stage that sent it.
    const std::vector<Staged>& received(std::size_t k) const { return transfers_.at(k).received; }
    // The tensors of its own stage that segment k asked for through Stages::to (made by it or by an earlier
    // segment on the stage).
    const std::vector<poplar::Tensor>& reused(std::size_t k) const { return transfers_.at(k).reused; }
    // Records a copy from another stage into the segment now open on `stage` (on(stage) holds its Copy).
    void recordTransfer(const Staged& from, std::size_t stage);
    // Records that the segment now open on `stage` reads t, which is already there.
    void recordReuse(const poplar::Tensor& t, std::size_t stage);
    // Every segment in order (the pass on its own, or on one stage).
    poplar::program::Sequence all() const;

private:
    std::deque<std::pair<std::size_t, poplar::program::Sequence>> segments_;  // a deque: on() references stay valid
    struct Transfers {
        std::vector<Staged> received;
        std::vector<poplar::Tensor> reused;
    };
    std::vector<Transfers> transfers_;  // by segment
};

class Stages {
public:
    // replica_graph: the graph of one replica, whose target holds `count` IPUs.
    Stages(poplar::Graph& replica_graph, std::size_t count);

    std::size_t count() const { return graphs_.empty() ? 1 : graphs_.size(); }
    // Stage s's graph (with one stage, the replica's graph).
    poplar::Graph& graph(std::size_t stage);

    // t on `stage`: t itself when it is there already, else a copy in a variable of that stage, made at the start
    // of the receiving segment.
    Staged to(const Staged& t, std::size_t stage, SegmentChain& chain, const std::string& name);

private:
    poplar::Graph& replica_graph_;
    std::vector<poplar::Graph> graphs_;  // one per stage; empty with one stage
};

}  // namespace ft5::t5
