#include "t5/feed_forward.h"

#include <popnn/NonLinearity.hpp>
#include <popops/ElementWise.hpp>

#include "t5/linear.h"

namespace ft5::t5 {

poplar::Tensor feedForward(poplar::Graph& graph, FeedForward kind, const FeedForwardWeights& w,
                           const poplar::Tensor& x, poplar::program::Sequence& prog, const std::string& name,
                           FeedForwardSaved& saved, Dropout* dropout) {
    saved.x = x;
    poplar::Tensor hidden;
    if (kind == FeedForward::GatedGelu) {
        saved.pre = linear(graph, *w.wi_0, x, prog, name + "/wi_0");
        saved.linear = linear(graph, *w.wi_1, x, prog, name + "/wi_1");
        saved.act = popnn::nonLinearity(graph, popnn::NonLinearityType::GELU, saved.pre, prog, name + "/gelu");
        hidden = popops::mul(graph, saved.act, saved.linear, prog, name + "/gate");
    } else {
        saved.pre = popnn::nonLinearity(graph, popnn::NonLinearityType::RELU,
                                        linear(graph, *w.wi_0, x, prog, name + "/wi"), prog, name + "/relu");
        hidden = saved.pre;
    }
    saved.hidden = dropoutForward(dropout, hidden, prog, name + "/dropout", saved.dropout, true);
    return linear(graph, *w.wo, saved.hidden, prog, name + "/wo");
}

poplar::Tensor feedForwardBackward(poplar::Graph& graph, FeedForward kind, const FeedForwardWeights& w,
                                   const FeedForwardSaved& saved, const poplar::Tensor& d_out,
                                   poplar::program::Sequence& prog, const std::string& name,
                                   const Dropout* dropout) {
    const poplar::Tensor d_hidden =
        dropoutBackward(dropout, linearBackward(graph, *w.wo, saved.hidden, d_out, prog, name + "/wo"), saved.dropout,
                        prog, name + "/d_dropout");
    if (kind == FeedForward::GatedGelu) {
        const poplar::Tensor d_act = popops::mul(graph, d_hidden, saved.linear, prog, name + "/d_act");
        const poplar::Tensor d_linear = popops::mul(graph, d_hidden, saved.act, prog, name + "/d_linear");
        // popnn's GELU gradient takes the forward input
        const poplar::Tensor d_pre = popnn::nonLinearityInputGradient(graph, popnn::NonLinearityType::GELU,
                                                                      saved.pre, d_act, prog, name + "/d_gelu");
        const poplar::Tensor dx = linearBackward(graph, *w.wi_0, saved.x, d_pre, prog, name + "/wi_0");
        linearBackwardInto(graph, *w.wi_1, saved.x, d_linear, dx, prog, name + "/wi_1");
        return dx;
    }
    // popnn's RELU gradient takes the forward output
    const poplar::Tensor d_pre = popnn::nonLinearityInputGradient(graph, popnn::NonLinearityType::RELU, saved.pre,
                                                                  d_hidden, prog, name + "/d_relu");
    return linearBackward(graph, *w.wi_0, saved.x, d_pre, prog, name + "/wi");
}

}  // namespace ft5::t5
