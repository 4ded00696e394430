// The order of a step's pipeline tasks: dependencies kept, GPipe's flush, 1F1B's bound on micro-batches in flight.
#include "t5/pipeline_schedule.h"
#include "session/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace ft5::t5 {
namespace {

using session::pipeline_order;

struct Replay {
    std::vector<uint32_t> peak_in_flight;  // per stage
    bool dependencies_kept = true;
    size_t first_backward = 0;
    size_t last_forward = 0;
};

// Replays the tasks, checking each against what must have run before it and counting, per stage, the micro-batches
// whose forward reached the stage and whose backward has not left it.
Replay replay(const std::vector<PipelineTask>& tasks, const std::vector<uint32_t>& fwd, const std::vector<uint32_t>& bwd,
              uint32_t stages, uint32_t n) {
    Replay r;
    r.peak_in_flight.assign(stages, 0);
    std::vector<uint32_t> fwd_done(n, 0), bwd_done(n, 0);
    std::vector<std::vector<int>> holding(stages, std::vector<int>(n, 0));  // backward segments still to run there
    r.first_backward = tasks.size();
    for (size_t i = 0; i < tasks.size(); ++i) {
        const PipelineTask& t = tasks[i];
        if (!t.backward) {
            r.dependencies_kept &= fwd_done[t.micro_batch] == t.segment;
            r.dependencies_kept &= t.micro_batch == 0 || fwd_done[t.micro_batch - 1] > t.segment;
            ++fwd_done[t.micro_batch];
            const uint32_t s = fwd[t.segment];
            if (holding[s][t.micro_batch] == 0) {
                holding[s][t.micro_batch] = int(std::count(bwd.begin(), bwd.end(), s));
            }
            r.last_forward = i;
        } else {
            r.dependencies_kept &= fwd_done[t.micro_batch] == fwd.size() && bwd_done[t.micro_batch] == t.segment;
            r.dependencies_kept &= t.micro_batch == 0 || bwd_done[t.micro_batch - 1] > t.segment;
            ++bwd_done[t.micro_batch];
            --holding[bwd[t.segment]][t.micro_batch];
            r.first_backward = std::min(r.first_backward, i);
        }
        for (uint32_t s = 0; s < stages; ++s) {
            const auto held = uint32_t(std::count_if(holding[s].begin(), holding[s].end(), [](int h) { return h > 0; }));
            r.peak_in_flight[s] = std::max(r.peak_in_flight[s], held);
        }
    }
    return r;
}

TEST(PipelineSchedule, GPipeRunsEveryForwardBeforeAnyBackwardAndHoldsAllMicroBatches) {
    const std::vector<uint32_t> fwd = {0, 1, 2, 3}, bwd = {3, 2, 1, 0};
    const auto tasks = pipeline_tasks(PipelineOrder::kGPipe, fwd, bwd, 4, 6);
    ASSERT_EQ(tasks.size(), 6u * 8u);
    const Replay r = replay(tasks, fwd, bwd, 4, 6);
    EXPECT_TRUE(r.dependencies_kept);
    EXPECT_GT(r.first_backward, r.last_forward);
    for (uint32_t s = 0; s < 4; ++s) EXPECT_EQ(r.peak_in_flight[s], 6u) << "stage " << s;
}

TEST(PipelineSchedule, OneFOneBHoldsAtMostStagesMinusStageMicroBatches) {
    const std::vector<uint32_t> fwd = {0, 1, 2, 3}, bwd = {3, 2, 1, 0};
    for (const uint32_t n : {1u, 2u, 3u, 8u}) {
        const auto tasks = pipeline_tasks(PipelineOrder::kOneFOneB, fwd, bwd, 4, n);
        ASSERT_EQ(tasks.size(), n * 8u);
        const Replay r = replay(tasks, fwd, bwd, 4, n);
        EXPECT_TRUE(r.dependencies_kept) << n;
        for (uint32_t s = 0; s < 4; ++s) EXPECT_EQ(r.peak_in_flight[s], std::min(n, 4 - s)) << "stage " << s << ", n " << n;
        if (n == 8) {
            EXPECT_LT(r.first_backward, r.last_forward) << "backwards interleave with forwards";
        }
    }
}

TEST(PipelineSchedule, SequentialOrderFinishesEachMicroBatchBeforeTheNext) {
    const std::vector<uint32_t> fwd = {0, 1}, bwd = {1, 0};
    const auto tasks = pipeline_tasks(PipelineOrder::kSequential, fwd, bwd, 2, 3);
    ASSERT_EQ(tasks.size(), 12u);
    for (size_t i = 0; i < tasks.size(); ++i) EXPECT_EQ(tasks[i].micro_batch, i / 4) << i;
    EXPECT_EQ(replay(tasks, fwd, bwd, 2, 3).peak_in_flight, (std::vector<uint32_t>{1, 1}));
}

TEST(PipelineSchedule, AChainThatReturnsToAStageStillCompletes) {
    // A tied lm_head sits with the embedding on stage 0: the pass visits stages 0, 1, 0 and back.
    const std::vector<uint32_t> fwd = {0, 1, 0}, bwd = {0, 1, 0};
    for (auto order : {PipelineOrder::kGPipe, PipelineOrder::kOneFOneB, PipelineOrder::kSequential}) {
        const auto tasks = pipeline_tasks(order, fwd, bwd, 2, 5);
        ASSERT_EQ(tasks.size(), 30u);
        EXPECT_TRUE(replay(tasks, fwd, bwd, 2, 5).dependencies_kept);
    }
}

TEST(PipelineSchedule, OnlyMultiStageOnChipPlansPipeline) {
    EXPECT_EQ(pipeline_order(FT5_SCHEDULE_1F1B, 1, false), PipelineOrder::kSequential);
    EXPECT_EQ(pipeline_order(FT5_SCHEDULE_GPIPE, 2, true), PipelineOrder::kSequential);
    EXPECT_EQ(pipeline_order(FT5_SCHEDULE_GPIPE, 2, false), PipelineOrder::kGPipe);
    EXPECT_EQ(pipeline_order(FT5_SCHEDULE_1F1B, 4, false), PipelineOrder::kOneFOneB);
}

// One stage per segment, forward 0..pp-1 and backward pp-1..0: a pass's positions' stages.
std::vector<uint32_t> stagesOf(const std::vector<uint32_t>& fwd, const std::vector<uint32_t>& bwd) {
    std::vector<uint32_t> out = fwd;
    out.insert(out.end(), bwd.begin(), bwd.end());
    return out;
}

TEST(PipelineStash, StagesHoldAsManySlotsAsTheScheduleKeepsMicroBatchesThere) {
    const std::vector<uint32_t> fwd{0, 1, 2, 3}, bwd{3, 2, 1, 0};
    for (const uint32_t m : {4u, 8u}) {
        const auto gpipe = pipeline_tasks(PipelineOrder::kGPipe, fwd, bwd, 4, m);
        const auto ofob = pipeline_tasks(PipelineOrder::kOneFOneB, fwd, bwd, 4, m);
        for (uint32_t s = 0; s < 4; ++s) {
            // what stage s keeps lives from its forward (position s) to its backward (position 7 - s)
            EXPECT_EQ(stash_depth(gpipe, 4, s, 7 - s), m) << "GPipe stage " << s;
            EXPECT_EQ(stash_depth(ofob, 4, s, 7 - s), std::min(m, 4 - s)) << "1F1B stage " << s;
        }
        // the dropout seed lives through the whole pass
        EXPECT_EQ(stash_depth(gpipe, 4, 0, 7), m);
    }
}

TEST(PipelineStash, ASegmentAloneOnItsStageNeedsNoStash) {
    const std::vector<uint32_t> fwd{0, 1}, bwd{1, 0};
    const auto stages = stagesOf(fwd, bwd);
    const auto gpipe = pipeline_tasks(PipelineOrder::kGPipe, fwd, bwd, 2, 4);
    const auto ofob = pipeline_tasks(PipelineOrder::kOneFOneB, fwd, bwd, 2, 4);
    // 1F1B's last stage runs each micro-batch's forward and backward back to back; its first does not
    EXPECT_TRUE(runs_alone(ofob, stages, 2, 1, 2));
    EXPECT_FALSE(runs_alone(ofob, stages, 2, 0, 3));
    // GPipe holds every micro-batch on both stages
    EXPECT_FALSE(runs_alone(gpipe, stages, 2, 1, 2));
    EXPECT_FALSE(runs_alone(gpipe, stages, 2, 0, 3));
    // under GPipe stage 1 copies in each micro-batch right after stage 0 sends it
    EXPECT_TRUE(runs_alone(gpipe, stages, 2, 0, 1));
}

TEST(PipelineStash, TheSteadyPhaseIsOneLoopWhateverTheMicroBatches) {
    const std::vector<uint32_t> fwd{0, 1, 2, 3}, bwd{3, 2, 1, 0};
    for (const auto order : {PipelineOrder::kGPipe, PipelineOrder::kOneFOneB}) {
        std::vector<std::size_t> programs;
        for (const uint32_t m : {8u, 32u, 128u}) {
            const auto tasks = pipeline_tasks(order, fwd, bwd, 4, m);
            const auto runs = repeated_runs(tasks);
            // the runs cover the tasks in order, each a repeated pattern of the same segments
            std::size_t next = 0, program = 0;
            for (const TaskRun& run : runs) {
                ASSERT_EQ(run.first, next);
                for (uint32_t r = 1; r < run.repeats; ++r)
                    for (std::size_t q = 0; q < run.length; ++q) {
                        const PipelineTask& a = tasks[run.first + q];
                        const PipelineTask& b = tasks[run.first + r * run.length + q];
                        ASSERT_EQ(a.backward, b.backward);
                        ASSERT_EQ(a.segment, b.segment);
                    }
                next += run.length * run.repeats;
                program += run.length;  // what the program holds: each run's pattern once
            }
            EXPECT_EQ(next, tasks.size());
            programs.push_back(program);
        }
        // the program's length does not grow with the micro-batches: only the loops' counts do
        EXPECT_EQ(programs[0], programs[1]);
        EXPECT_EQ(programs[1], programs[2]);
        EXPECT_LE(programs[2], 64u);
    }
}

}  // namespace
}  // namespace ft5::t5
