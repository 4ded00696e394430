#include "t5/layer_norm.h"

#include <popops/ElementWise.hpp>
#include <popops/Reduce.hpp>

namespace ft5::t5 {

std::vector<poplar::Tensor> tensorsOf(const LayerNormSaved& saved) { return {saved.x, saved.inv_rms}; }

namespace pe = popops::expr;

namespace {

// an operand of the FLOAT statistics
pe::Cast f32(const pe::Expr& e) { return pe::Cast(e, poplar::FLOAT); }

}  // namespace

// As Hugging Face's T5LayerNorm: the normalised x in FLOAT, cast to the weight's type, times the weight (a FLOAT
// residual stream gives HALF activations in fp16).
poplar::Tensor layerNorm(poplar::Graph& graph, const Parameter& w, const poplar::Tensor& x, float eps,
                         poplar::program::Sequence& prog, const std::string& name, LayerNormSaved& saved) {
    const float inv_d = 1.0f / float(x.dim(1));
    const poplar::Tensor sum_sq =
        popops::reduce(graph, x, poplar::FLOAT, {1}, popops::Operation::SQUARE_ADD, prog, name + "/sum_squares");
    saved.x = x;
    saved.inv_rms = popops::map(graph, pe::Rsqrt(pe::_1 * pe::Const(inv_d) + pe::Const(eps)), {sum_sq}, prog,
                                name + "/inv_rms")
                        .expand({1});
    return popops::map(graph, pe::Cast(f32(pe::_1) * pe::_2, w.weight.elementType()) * pe::_3, {x, saved.inv_rms, w.weight},
                       prog, name + "/scale");
}

poplar::Tensor layerNormBackward(poplar::Graph& graph, const Parameter& w, const LayerNormSaved& saved,
                                 const poplar::Tensor& dy, poplar::program::Sequence& prog, const std::string& name) {
    const poplar::Tensor& x = saved.x;
    const poplar::Tensor& r = saved.inv_rms;
    const float inv_d = 1.0f / float(x.dim(1));
    // dw = sum over rows of dy * x * r
    const poplar::Tensor dy_xhat =
        popops::map(graph, f32(pe::_1) * (f32(pe::_2) * pe::_3), {dy, x, r}, prog, name + "/dy_xhat");
    popops::reduceWithOutput(graph, dy_xhat, w.gradient, {0}, {popops::Operation::ADD, true}, prog,
                             name + "/weight_gradient");
    // dx = r g - x r^3 mean(g x), with g = dy w, in FLOAT
    const poplar::Tensor g = popops::map(graph, f32(pe::_1) * f32(pe::_2), {dy, w.weight}, prog, name + "/dy_w");
    const poplar::Tensor g_dot_x =
        popops::reduce(graph, popops::map(graph, pe::_1 * f32(pe::_2), {g, x}, prog, name + "/g_x"), poplar::FLOAT, {1},
                       popops::Operation::ADD, prog, name + "/g_dot_x")
            .expand({1});
    return popops::map(graph,
                       pe::Cast(pe::_1 * pe::_2 - f32(pe::_3) * (pe::_2 * pe::_2 * pe::_2 * pe::_4 * pe::Const(inv_d)),
                                x.elementType()),
                       {g, r, x, g_dot_x}, prog, name + "/input_gradient");
}

}  // namespace ft5::t5
