// The order of the pieces of a step's micro-batches through the pipeline stages: the program's order.
// A micro-batch's forward pass is a chain of segments (maximal runs of consecutive work on one stage); its
// backward pass is another chain. GPipe runs every micro-batch's forward before any backward; 1F1B lets stage s
// hold at most (stages - s) micro-batches between their forward and their backward and runs a ready backward
// first. The emulator executes the tasks one after another, so what the schedule decides is which activations
// are alive together on each IPU (the memory a real pipeline needs) and the order the gradients accumulate in:
// every segment takes its micro-batches in order, so the accumulated gradients do not depend on the schedule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ft5::t5 {

struct PipelineTask {
    bool backward = false;
    uint32_t segment = 0;      // index in the forward or the backward chain
    uint32_t micro_batch = 0;
};

enum class PipelineOrder {
    kSequential,  // each micro-batch's forward and backward before the next (one stage, or phased execution)
    kGPipe,
    kOneFOneB,
};

// forward_stages[k] / backward_stages[k]: the stage of forward / backward segment k. Backward segment 0 of a
// micro-batch follows its last forward segment. Throws std::logic_error if the tasks cannot all be ordered.
std::vector<PipelineTask> pipeline_tasks(PipelineOrder order, const std::vector<uint32_t>& forward_stages,
                                         const std::vector<uint32_t>& backward_stages, uint32_t stages,
                                         uint32_t micro_batches);

// How many micro-batches a stash holds at once under these tasks (at least 1), for a tensor that a micro-batch's
// pass writes in its segment `first` and last reads in its segment `last` (positions in the pass's order: the
// forward_segments forward segments, then the backward ones). A micro-batch's slot is its number modulo the depth;
// the micro-batches alive together are consecutive, so none collide.
uint32_t stash_depth(const std::vector<PipelineTask>& tasks, std::size_t forward_segments, std::size_t first,
                     std::size_t last);

// Whether, for every micro-batch, no other micro-batch's task runs on `stage` between its segment `first` and its
// segment `last` (positions as for stash_depth; stages[q]: the stage of position q): what the micro-batch leaves
// on that stage in between is then still there, and needs no stash.
bool runs_alone(const std::vector<PipelineTask>& tasks, const std::vector<uint32_t>& stages, std::size_t forward_segments,
                std::size_t first, std::size_t last);

// The tasks as runs of a repeated pattern: tasks [first, first + length) and `repeats` - 1 copies after them are the
// same segments (of later micro-batches). A program whose segments find their micro-batch in device counters runs a
// run as one Repeat: the pipeline's steady phase is one loop, its fill and drain what is left.
struct TaskRun {
    std::size_t first = 0, length = 1;
    uint32_t repeats = 1;
};
std::vector<TaskRun> repeated_runs(const std::vector<PipelineTask>& tasks);

}  // namespace ft5::t5
