// The order of the pieces of a step's micro-batches through the pipeline stages: the program's order.
// A micro-batch's forward pass is a chain of segments (maximal runs of consecutive work on one stage); its
// backward pass is another chain. GPipe runs every micro-batch's forward before any backward; 1F1B lets stage s
// hold at most (stages - s) micro-batches between their forward and their backward and runs a ready backward
// first. The emulator executes the tasks one after another, so what the schedule decides is which activations
// are alive together on each IPU (the memory a real pipeline needs) and the order the gradients accumulate in:
// every segment takes its micro-batches in order, so the accumulated gradients do not depend on the schedule.
#pragma once

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

}  // namespace ft5::t5
