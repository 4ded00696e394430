// A decode in progress on the builder's cached decoding programs, for any row count: the rows run on the smallest
// declared decode program that holds them, else on their bucket's (BuilderSession::run_decode_shape; padding rows and
// prompt positions ignored). A beam reorder that keeps the program is the step's decode_parents stream (each row takes
// its parent's caches); one that changes it begins again on the new program with the rows' prompts and feeds each
// row's history again: the same caches, recomputed. So does a step after the session compiled its engine again
// (another shape ran in between: the new engine's caches are empty).
#pragma once

#include <cstdint>
#include <vector>

#include "session/shape_programs.h"

namespace ft5::session {

class BuilderSession;

class BuilderDecode {
public:
    BuilderDecode(BuilderSession& session, const int32_t* ids, const int32_t* mask, uint32_t rows, uint32_t src_len,
                  uint32_t max_steps);

    int64_t batch() const noexcept { return int64_t(rows_.size()); }
    // tokens[rows] -> logits[rows, vocab]. Throws when max_steps tokens were fed.
    void step(const int32_t* tokens, float* logits);
    // New row i = old row rows[i]; count may differ from the current row count.
    void reorder(const int32_t* rows, uint32_t count);

private:
    struct Row {
        std::vector<int> ids, mask;  // the prompt [src_len]
        std::vector<int> tokens;     // fed so far
    };
    ShapePrograms& program();
    // Begins the decode program of the rows' bucket on their prompts and feeds their histories again.
    void restart();
    void run_step(const std::vector<int>& tokens, float* logits);

    BuilderSession& session_;
    uint32_t src_len_, max_steps_;
    std::vector<Row> rows_;
    t5::DecodeShape runs_on_;  // the program the caches are on
    std::vector<int> parents_;  // the device row each row's cache is taken from at the next step
    uint32_t compilations_ = 0;  // the session's engine compilations when the caches were filled
};

}  // namespace ft5::session
