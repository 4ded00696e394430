// The bounds of the tiny fixtures' forward/backward parity (logits, encoder output, loss, gradients against the
// float64 references), shared by the session's tests (through the ABI) and the T5 graph's.
#pragma once

namespace ft5::test {

// Bounds: about 5 x the float32 noise floor, rounded up. Measured against the float64 references under
// OPENBLAS_CORETYPE = Nehalem, Sandybridge, Haswell, Zen, SkylakeX, Cooperlake and the host default (Xeon with
// AVX-512), on flan-t5-tiny, hf-t5-tiny and flan-t5-tiny-mnli; "torch" is a float32 torch 1.13 forward/backward of
// the same batch (make_f64_trajectory.py --measure) and the fixtures' own logits_f32 / loss_f32:
//                 this runtime           torch float32          bound
//   logits        2.4e-7 .. 3.7e-7       2.8e-7 .. 3.6e-7       2e-6
//   encoder       2.9e-7 .. 3.1e-7       2.9e-7 .. 3.1e-7       2e-6
//   loss          3.0e-8 .. 9.3e-8       3.0e-8 .. 2.0e-7       1e-6
//   gradients     9.0e-7 .. 1.8e-6       8.3e-7 .. 2.2e-6       1e-5   (worst tensor: relative_attention_bias)
// A wrong layer is an O(1) error in its output or gradient; even an RMSNorm epsilon of 1e-5 instead of 1e-6 moves
// flan-t5-tiny's logits by 4.7e-6, its encoder output by 7.4e-6 and its loss by 1.2e-6 (float64), past each bound. (These bounds are for these tiny models; `flant5 parity`, which must hold
// for any checkpoint up to flan-t5-xxl, scales them with size: ReferenceParity.)
constexpr double kLogitsBound = 2e-6, kEncoderBound = 2e-6, kLossBound = 1e-6, kGradientBound = 1e-5;

// fp16 sessions (weights, activations and gradients in half; matmul partials, RMS-norm statistics and the loss in
// float) against the same float64 references. fp16's unit roundoff is u = 2^-11 = 4.9e-4, and the weights alone
// carry it. Measured on flan-t5-tiny and hf-t5-tiny (host default kernels, AMD Zen 4):
//                 fp16 session             bound
//   logits        9.8e-4 .. 1.0e-3 (2 u)   5 u
//   encoder       8.9e-4           (2 u)   5 u
//   loss          7.8e-7 .. 1.2e-4         2 u
//   gradients     3.0e-3 .. 3.6e-3 (7 u)   20 u   (worst: relative_attention_bias, a layer norm)
// An fp32 session is 1,000 times closer (kLogitsBound above); a wrong layer is still an O(1) error.
constexpr double kHalfUnitRoundoff = 0x1p-11;
constexpr double kHalfLogitsBound = 5 * kHalfUnitRoundoff, kHalfEncoderBound = 5 * kHalfUnitRoundoff,
                 kHalfLossBound = 2 * kHalfUnitRoundoff, kHalfGradientBound = 20 * kHalfUnitRoundoff;
// A greedy token may differ from fp32's only where fp32's two logits lie within 4 u of the larger one (measured:
// no position differs on either fixture).
constexpr double kHalfTieGap = 4 * kHalfUnitRoundoff;

}  // namespace ft5::test
