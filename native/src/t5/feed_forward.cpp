#include "t5/feed_forward.h"

#include <popnn/NonLinearity.hpp>
#include <poplin/MatMul.hpp>
#include <popops/Cast.hpp>
#include <popops/ElementWise.hpp>

#include "t5/linear.h"

namespace ft5::t5 {

std::vector<poplar::Tensor> tensorsOf(const FeedForwardSaved& saved) {
    return {saved.x, saved.pre, saved.linear, saved.act, saved.hidden};
}

namespace {

namespace pe = popops::expr;

// wo as the mitigations ask: in FLOAT (the input and the weight cast up), or on x / 8 in HALF with the output cast
// up and multiplied back (each exact but for the rounding they avoid); else as any projection.
poplar::Tensor outputProjection(poplar::Graph& graph, const HalfMitigations& mitigations, const Parameter& wo,
                                const poplar::Tensor& hidden, poplar::program::Sequence& prog, const std::string& name) {
    const bool half = hidden.elementType() == poplar::HALF;
    if (half && mitigations.wo_in_float) {
        const poplar::Tensor w = popops::cast(graph, wo.weight, poplar::FLOAT, prog, name + "/weight_float");
        const poplar::Tensor h = popops::cast(graph, hidden, poplar::FLOAT, prog, name + "/input_float");
        return poplin::matMul(graph, h, w.transpose(), prog, poplar::FLOAT, name + " [" + wo.name + "] (float)");
    }
    if (half && mitigations.wo_scaled) {
        const poplar::Tensor scaled = popops::mul(graph, hidden, 1.0f / kWoScale, prog, name + "/input_scaled");
        return popops::map(graph, pe::Cast(pe::_1, poplar::FLOAT) * pe::Const(kWoScale),
                           {linear(graph, wo, scaled, prog, name)}, prog, name + "/output_unscaled");
    }
    return linear(graph, wo, hidden, prog, name);
}

// gelu where |x| < 39, relu outside it: what x^3 in gelu_new's tanh form leaves representable in HALF.
poplar::Tensor limitedGelu(poplar::Graph& graph, const poplar::Tensor& pre, poplar::program::Sequence& prog,
                           const std::string& name) {
    const poplar::Tensor gelu = popnn::nonLinearity(graph, popnn::NonLinearityType::GELU, pre, prog, name);
    return popops::map(graph,
                       pe::Select(pe::_1, pe::Max(pe::_2, pe::Const(0.0f)), pe::Lt(pe::Abs(pe::_2), pe::Const(kGeluLimit))),
                       {gelu, pre}, prog, name + "/limited");
}

}  // namespace

poplar::Tensor feedForward(poplar::Graph& graph, FeedForward kind, const HalfMitigations& mitigations,
                           const FeedForwardWeights& w, const poplar::Tensor& x, poplar::program::Sequence& prog,
                           const std::string& name, FeedForwardSaved& saved, Dropout* dropout) {
    saved.x = x;
    poplar::Tensor hidden;
    if (kind == FeedForward::GatedGelu) {
        saved.pre = linear(graph, *w.wi_0, x, prog, name + "/wi_0");
        saved.linear = linear(graph, *w.wi_1, x, prog, name + "/wi_1");
        saved.act = x.elementType() == poplar::HALF && mitigations.gelu_limited
                        ? limitedGelu(graph, saved.pre, prog, name + "/gelu")
                        : popnn::nonLinearity(graph, popnn::NonLinearityType::GELU, saved.pre, prog, name + "/gelu");
        hidden = popops::mul(graph, saved.act, saved.linear, prog, name + "/gate");
    } else {
        saved.pre = popnn::nonLinearity(graph, popnn::NonLinearityType::RELU,
                                        linear(graph, *w.wi_0, x, prog, name + "/wi"), prog, name + "/relu");
        hidden = saved.pre;
    }
    saved.hidden = dropoutForward(dropout, hidden, prog, name + "/dropout", saved.dropout, true);
    return outputProjection(graph, mitigations, *w.wo, saved.hidden, prog, name + "/wo");
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
