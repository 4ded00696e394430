#include "session/builder_decode.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "abi/error.h"
#include "session/builder_session.h"

namespace ft5::session {

BuilderDecode::BuilderDecode(BuilderSession& session, const int32_t* ids, const int32_t* mask, uint32_t rows,
                             uint32_t src_len, uint32_t max_steps)
    : session_(session), src_len_(src_len), max_steps_(max_steps), rows_(rows) {
    for (uint32_t r = 0; r < rows; ++r) {
        rows_[r].ids.assign(ids + std::size_t(r) * src_len, ids + std::size_t(r + 1) * src_len);
        if (mask)
            rows_[r].mask.assign(mask + std::size_t(r) * src_len, mask + std::size_t(r + 1) * src_len);
        else
            rows_[r].mask.assign(src_len, 1);
    }
    restart();
}

namespace {

ShapeRequest decode_of(std::size_t rows, uint32_t src_len, uint32_t max_steps) {
    return ShapeRequest{true, uint32_t(rows), src_len, max_steps};
}

}  // namespace

ShapePrograms& BuilderDecode::program() {
    return session_.program_for(decode_of(rows_.size(), src_len_, max_steps_));
}

void BuilderDecode::restart() {
    ShapePrograms& p = program();
    runs_on_ = p.decode_shape();
    compilations_ = session_.compilations();
    const std::size_t S = runs_on_.src_len;
    std::vector<int> ids(runs_on_.batch * S, 0), mask(runs_on_.batch * S, 0);
    for (std::size_t r = 0; r < runs_on_.batch; ++r) {
        if (r < rows_.size()) {
            std::copy(rows_[r].ids.begin(), rows_[r].ids.end(), ids.begin() + std::ptrdiff_t(r * S));
            std::copy(rows_[r].mask.begin(), rows_[r].mask.end(), mask.begin() + std::ptrdiff_t(r * S));
        } else {
            mask[r * S] = 1;  // a padding row sees its first position (no 0/0 softmax)
        }
    }
    p.set_decode_prompts(ids, mask);
    {
        const auto held = session_.activations();
        p.run(t5::T5Program::kDecodeBegin);
    }
    parents_.resize(runs_on_.batch);
    std::iota(parents_.begin(), parents_.end(), 0);
    const std::size_t fed = rows_.empty() ? 0 : rows_[0].tokens.size();
    std::vector<int> column(rows_.size());
    for (std::size_t t = 0; t < fed; ++t) {
        for (std::size_t r = 0; r < rows_.size(); ++r) column[r] = rows_[r].tokens[t];
        run_step(column, nullptr);
    }
}

void BuilderDecode::run_step(const std::vector<int>& tokens, float* logits) {
    if (session_.compilations() != compilations_) restart();  // the caches were on the engine before
    ShapePrograms& p = program();
    std::vector<int> padded(runs_on_.batch, 0);
    std::copy(tokens.begin(), tokens.end(), padded.begin());
    p.set_decode_tokens(padded, parents_);
    const auto held = session_.activations();
    p.run(t5::T5Program::kDecodeStep);
    std::iota(parents_.begin(), parents_.end(), 0);
    if (logits) p.decode_logits_of(rows_.size(), logits);
}

void BuilderDecode::step(const int32_t* tokens, float* logits) {
    const std::size_t fed = rows_.empty() ? 0 : rows_[0].tokens.size();
    if (fed >= max_steps_) {
        invalid_argument("decode_step: the cache holds max_steps = " + std::to_string(max_steps_) +
                         " tokens and all are used; begin the decode with a larger max_steps");
    }
    const std::vector<int> column(tokens, tokens + rows_.size());
    run_step(column, logits);
    for (std::size_t r = 0; r < rows_.size(); ++r) rows_[r].tokens.push_back(column[r]);
}

void BuilderDecode::reorder(const int32_t* rows, uint32_t count) {
    std::vector<Row> next(count);
    std::vector<int> parents(runs_on_.batch);
    std::iota(parents.begin(), parents.end(), 0);
    for (uint32_t i = 0; i < count; ++i) {
        next[i] = rows_[std::size_t(rows[i])];
        if (i < runs_on_.batch) parents[i] = parents_[std::size_t(rows[i])];
    }
    rows_ = std::move(next);
    if (session_.decode_runs_on(decode_of(count, src_len_, max_steps_)) == runs_on_) {
        parents_ = std::move(parents);
    } else {
        restart();
    }
}

}  // namespace ft5::session
