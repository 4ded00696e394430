#include "t5/pipeline_schedule.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace ft5::t5 {

namespace {

// The state of every micro-batch while the tasks are being ordered.
class ScheduleState {
public:
    ScheduleState(const std::vector<uint32_t>& fwd, const std::vector<uint32_t>& bwd, uint32_t stages, uint32_t n)
        : fwd_(fwd), bwd_(bwd), n_(n), fwd_done_(n, 0), bwd_done_(n, 0), started_(size_t(n) * stages, 0),
          bwd_left_(size_t(n) * stages, 0), stages_(stages) {
        for (uint32_t m = 0; m < n; ++m)
            for (uint32_t s : bwd) ++bwd_left_[size_t(m) * stages + s];
    }

    // Segments take their micro-batches in order; a forward segment follows the previous one of its micro-batch,
    // the backward chain starts after the whole forward chain.
    bool forward_ready(uint32_t m, uint32_t stage) const {
        const uint32_t k = fwd_done_[m];
        return k < fwd_.size() && fwd_[k] == stage && (m == 0 || fwd_done_[m - 1] > k);
    }
    bool backward_ready(uint32_t m, uint32_t stage) const {
        const uint32_t b = bwd_done_[m];
        return fwd_done_[m] == fwd_.size() && b < bwd_.size() && bwd_[b] == stage && (m == 0 || bwd_done_[m - 1] > b);
    }
    bool started(uint32_t m, uint32_t stage) const { return started_[size_t(m) * stages_ + stage] != 0; }
    // Micro-batches whose forward has reached this stage and whose backward has not yet left it.
    uint32_t in_flight(uint32_t stage) const {
        uint32_t count = 0;
        for (uint32_t m = 0; m < n_; ++m) count += started(m, stage) && bwd_left_[size_t(m) * stages_ + stage] > 0;
        return count;
    }
    bool all_forwards_done() const {
        for (uint32_t m = 0; m < n_; ++m)
            if (fwd_done_[m] < fwd_.size()) return false;
        return true;
    }
    PipelineTask run_forward(uint32_t m, uint32_t stage) {
        started_[size_t(m) * stages_ + stage] = 1;
        return {false, fwd_done_[m]++, m};
    }
    PipelineTask run_backward(uint32_t m, uint32_t stage) {
        --bwd_left_[size_t(m) * stages_ + stage];
        return {true, bwd_done_[m]++, m};
    }

private:
    const std::vector<uint32_t>& fwd_;
    const std::vector<uint32_t>& bwd_;
    uint32_t n_;
    std::vector<uint32_t> fwd_done_, bwd_done_;
    std::vector<uint8_t> started_;
    std::vector<uint32_t> bwd_left_;
    uint32_t stages_;
};

}  // namespace

std::vector<PipelineTask> pipeline_tasks(PipelineOrder order, const std::vector<uint32_t>& forward_stages,
                                         const std::vector<uint32_t>& backward_stages, uint32_t stages,
                                         uint32_t micro_batches) {
    for (uint32_t s : forward_stages)
        if (s >= stages) throw std::logic_error("pipeline schedule: a forward segment is on stage " + std::to_string(s));
    for (uint32_t s : backward_stages)
        if (s >= stages) throw std::logic_error("pipeline schedule: a backward segment is on stage " + std::to_string(s));
    ScheduleState state(forward_stages, backward_stages, stages, micro_batches);
    // How many micro-batches a stage may hold between their forward and their backward.
    auto window = [&](uint32_t stage) -> uint32_t {
        switch (order) {
            case PipelineOrder::kSequential: return 1;
            case PipelineOrder::kOneFOneB: return stages - stage;
            case PipelineOrder::kGPipe: break;
        }
        return std::numeric_limits<uint32_t>::max();
    };
    const size_t total = size_t(micro_batches) * (forward_stages.size() + backward_stages.size());
    std::vector<PipelineTask> tasks;
    tasks.reserve(total);
    // Clock ticks: each stage runs at most one task per tick.
    while (tasks.size() < total) {
        const size_t before = tasks.size();
        for (uint32_t s = 0; s < stages; ++s) {
            const bool backward_allowed = order != PipelineOrder::kGPipe || state.all_forwards_done();
            bool ran = false;
            if (order != PipelineOrder::kGPipe && backward_allowed) {  // 1F1B: a ready backward goes first
                for (uint32_t m = 0; m < micro_batches && !ran; ++m) {
                    if (state.backward_ready(m, s)) {
                        tasks.push_back(state.run_backward(m, s));
                        ran = true;
                    }
                }
            }
            for (uint32_t m = 0; m < micro_batches && !ran; ++m) {
                if (state.forward_ready(m, s) && (state.started(m, s) || state.in_flight(s) < window(s))) {
                    tasks.push_back(state.run_forward(m, s));
                    ran = true;
                }
            }
            for (uint32_t m = 0; m < micro_batches && !ran && backward_allowed; ++m) {
                if (state.backward_ready(m, s)) {
                    tasks.push_back(state.run_backward(m, s));
                    ran = true;
                }
            }
        }
        if (tasks.size() == before) {
            throw std::logic_error("pipeline schedule: no task can run after " + std::to_string(before) + " of " +
                                       std::to_string(total));
        }
    }
    return tasks;
}

}  // namespace ft5::t5
