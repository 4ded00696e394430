#include "t5/attention.h"

#include <popnn/NonLinearity.hpp>
#include <popops/ElementWise.hpp>
#include <poplin/MatMul.hpp>

#include "t5/linear.h"
#include "t5/precision.h"

namespace ft5::t5 {

std::vector<poplar::Tensor> tensorsOf(const AttentionSaved& saved) {
    return {saved.x, saved.kv, saved.q, saved.k, saved.v, saved.probs, saved.applied_probs, saved.context};
}

namespace {

poplar::Tensor grouped(poplar::Graph& graph, const poplar::Tensor& a, const poplar::Tensor& b,
                       poplar::program::Sequence& prog, const std::string& name) {
    return poplin::matMulGrouped(graph, a, b, prog, a.elementType(), name);
}

}  // namespace

poplar::Tensor maskBias(poplar::Graph& graph, const poplar::Tensor& mask, std::size_t batch, std::size_t len,
                        const poplar::Type& type, float minimum, poplar::program::Sequence& prog,
                        const std::string& name) {
    namespace pe = popops::expr;
    return popops::map(graph,
                       pe::Cast((pe::Const(1.0f) - pe::Cast(pe::_1, poplar::FLOAT)) * pe::Const(minimum), type),
                       {mask}, prog, name)
        .reshape({batch, 1, 1, len});
}

poplar::Tensor splitHeads(const poplar::Tensor& t, const AttentionShape& s, std::size_t len) {
    return t.reshape({s.batch, len, s.heads, s.d_kv}).dimShuffle({0, 2, 1, 3}).reshape({s.batch * s.heads, len, s.d_kv});
}

poplar::Tensor mergeHeads(const poplar::Tensor& t, const AttentionShape& s, std::size_t len) {
    return t.reshape({s.batch, s.heads, len, s.d_kv}).dimShuffle({0, 2, 1, 3}).reshape({s.batch * len, s.heads * s.d_kv});
}

poplar::Tensor attend(poplar::Graph& graph, const AttentionShape& s, const poplar::Tensor& q, const poplar::Tensor& k,
                      const poplar::Tensor& v, const poplar::Tensor& bias, poplar::program::Sequence& prog,
                      const std::string& name, AttentionSaved* saved, Dropout* dropout) {
    const poplar::Tensor scores = grouped(graph, q, poplin::transposeGroupedMatrix(k), prog, name + "/scores")
                                      .reshape({s.batch, s.heads, s.q_len, s.k_len});
    popops::addInPlace(graph, scores, bias, prog, name + "/bias");
    const poplar::Tensor probs =
        popnn::nonLinearity(graph, popnn::NonLinearityType::SOFTMAX_STABLE, scores, prog, name + "/softmax");
    DropoutSite site = saved ? saved->probs_dropout : DropoutSite{};  // a recomputation replays its mask
    const poplar::Tensor applied = dropoutForward(dropout, probs, prog, name + "/probs_dropout", site, true);
    if (saved) {
        saved->probs = probs;
        saved->applied_probs = applied;
        saved->probs_dropout = site;
    }
    return mergeHeads(grouped(graph, applied.reshape({s.batch * s.heads, s.q_len, s.k_len}), v, prog, name + "/context"),
                      s, s.q_len);
}

poplar::Tensor attention(poplar::Graph& graph, const AttentionWeights& w, const AttentionShape& s,
                         const poplar::Tensor& x, const poplar::Tensor& kv, const poplar::Tensor& bias,
                         poplar::program::Sequence& prog, const std::string& name, AttentionSaved& saved,
                         Dropout* dropout) {
    saved.x = x;
    saved.kv = kv;
    saved.q = splitHeads(linear(graph, *w.q, x, prog, name + "/q"), s, s.q_len);
    saved.k = splitHeads(linear(graph, *w.k, kv, prog, name + "/k"), s, s.k_len);
    saved.v = splitHeads(linear(graph, *w.v, kv, prog, name + "/v"), s, s.k_len);
    saved.context = attend(graph, s, saved.q, saved.k, saved.v, bias, prog, name, &saved, dropout);
    return linear(graph, *w.o, saved.context, prog, name + "/o");
}

AttentionGradients attentionBackward(poplar::Graph& graph, const AttentionWeights& w, const AttentionShape& s,
                                     const AttentionSaved& saved, const poplar::Tensor& d_out, bool self_attention,
                                     poplar::program::Sequence& prog, const std::string& name,
                                     const Dropout* dropout) {
    const std::size_t groups = s.batch * s.heads;
    const poplar::Tensor d_context =
        splitHeads(linearBackward(graph, *w.o, saved.context, d_out, prog, name + "/o"), s, s.q_len);
    const poplar::Tensor applied = saved.applied_probs.reshape({groups, s.q_len, s.k_len});
    const poplar::Tensor d_applied =
        grouped(graph, d_context, poplin::transposeGroupedMatrix(saved.v), prog, name + "/d_probs")
            .reshape({s.batch, s.heads, s.q_len, s.k_len});
    const poplar::Tensor d_probs =
        dropoutBackward(dropout, d_applied, saved.probs_dropout, prog, name + "/d_probs_dropout");
    const poplar::Tensor d_v = grouped(graph, poplin::transposeGroupedMatrix(applied), d_context, prog, name + "/d_v");
    AttentionGradients out;
    out.scores = popnn::nonLinearityInputGradient(graph, popnn::NonLinearityType::SOFTMAX_STABLE, saved.probs, d_probs,
                                                  prog, name + "/d_scores");
    const poplar::Tensor d_scores = out.scores.reshape({groups, s.q_len, s.k_len});
    const poplar::Tensor d_q = grouped(graph, d_scores, saved.k, prog, name + "/d_q");
    const poplar::Tensor d_k = grouped(graph, poplin::transposeGroupedMatrix(d_scores), saved.q, prog, name + "/d_k");
    out.x = linearBackward(graph, *w.q, saved.x, mergeHeads(d_q, s, s.q_len), prog, name + "/q");
    if (self_attention) {
        out.kv = out.x;
        linearBackwardInto(graph, *w.k, saved.kv, mergeHeads(d_k, s, s.k_len), out.kv, prog, name + "/k");
    } else {
        out.kv = linearBackward(graph, *w.k, saved.kv, mergeHeads(d_k, s, s.k_len), prog, name + "/k");
    }
    linearBackwardInto(graph, *w.v, saved.kv, mergeHeads(d_v, s, s.k_len), out.kv, prog, name + "/v");
    return out;
}

}  // namespace ft5::t5
