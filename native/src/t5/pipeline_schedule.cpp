#include "t5/pipeline_schedule.h"

#include <algorithm>
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

namespace {

// The widest span of micro-batch numbers alive at once, given each micro-batch's live range of task indices.
uint32_t widest(const std::vector<std::size_t>& first, const std::vector<std::size_t>& last, std::size_t tasks) {
    uint32_t depth = 1;
    for (std::size_t t = 0; t < tasks; ++t) {
        std::size_t low = first.size(), high = 0;
        for (std::size_t k = 0; k < first.size(); ++k) {
            if (first[k] > t || last[k] < t || first[k] > last[k]) continue;
            low = std::min(low, k);
            high = std::max(high, k);
        }
        if (low <= high) depth = std::max(depth, uint32_t(high - low + 1));
    }
    return depth;
}

uint32_t micro_batch_count(const std::vector<PipelineTask>& tasks) {
    uint32_t n = 0;
    for (const PipelineTask& t : tasks) n = std::max(n, t.micro_batch + 1);
    return n;
}

}  // namespace

uint32_t stash_depth(const std::vector<PipelineTask>& tasks, std::size_t forward_segments, std::size_t first,
                     std::size_t last) {
    const uint32_t n = micro_batch_count(tasks);
    std::vector<std::size_t> from(n, std::numeric_limits<std::size_t>::max()), to(n, 0);
    for (std::size_t t = 0; t < tasks.size(); ++t) {
        const std::size_t position = tasks[t].backward ? forward_segments + tasks[t].segment : tasks[t].segment;
        if (position == first) from[tasks[t].micro_batch] = t;
        if (position == last) to[tasks[t].micro_batch] = t;
    }
    return widest(from, to, tasks.size());
}

bool runs_alone(const std::vector<PipelineTask>& tasks, const std::vector<uint32_t>& stages, std::size_t forward_segments,
                std::size_t first, std::size_t last) {
    const uint32_t stage = stages.at(first);
    std::vector<bool> open(micro_batch_count(tasks), false);  // between its `first` and its `last`
    for (const PipelineTask& task : tasks) {
        const std::size_t position = task.backward ? forward_segments + task.segment : task.segment;
        if (stages.at(position) == stage)
            for (std::size_t k = 0; k < open.size(); ++k)
                if (open[k] && k != task.micro_batch) return false;
        if (position == first) open[task.micro_batch] = true;
        if (position == last) open[task.micro_batch] = false;
    }
    return true;
}

std::vector<TaskRun> repeated_runs(const std::vector<PipelineTask>& tasks) {
    auto same = [&](std::size_t a, std::size_t b) {
        return tasks[a].backward == tasks[b].backward && tasks[a].segment == tasks[b].segment;
    };
    std::vector<TaskRun> runs;
    std::size_t i = 0;
    while (i < tasks.size()) {
        TaskRun best{i, 1, 1};
        for (std::size_t p = 1; i + 2 * p <= tasks.size(); ++p) {
            uint32_t r = 1;
            while (i + (r + 1) * p <= tasks.size()) {
                bool equal = true;
                for (std::size_t q = 0; q < p && equal; ++q) equal = same(i + q, i + r * p + q);
                if (!equal) break;
                ++r;
            }
            // the run that covers most tasks; of equal ones, the shortest pattern
            if (r >= 2 && p * r > best.length * best.repeats) best = TaskRun{i, p, r};
        }
        runs.push_back(best);
        i += best.length * best.repeats;
    }
    return runs;
}

}  // namespace ft5::t5
