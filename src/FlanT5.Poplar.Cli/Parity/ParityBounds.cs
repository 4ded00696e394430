namespace FlanT5.Poplar.Cli.Parity;

/// <summary>
/// The bounds of <c>flant5 parity</c>'s forward and backward rows (relative L2 errors against the float64 reference),
/// for a session in fp32 or in fp16. They must hold for any checkpoint a user brings, so each is a noise floor
/// measured on two sizes, extrapolated to flan-t5-xxl, with a margin.
/// </summary>
/// <remarks>
/// fp32: measured under OPENBLAS_CORETYPE = Nehalem, Sandybridge, Haswell, Zen, SkylakeX, Cooperlake and an AVX-512
/// host's default (this runtime; float32 torch 1.13 on the same batches agrees):
///                    tiny fixtures (d_model 64, 2+2 layers)    flan-t5-small geometry (512, 8+8; default, Haswell)
///   logits           2.4e-7 … 3.7e-7                           7.8e-7 … 9.6e-7
///   encoder states   2.9e-7 … 3.1e-7                           7.5e-7 … 9.5e-7
///   loss             3.0e-8 … 2.0e-7                           7.0e-10
///   worst gradient   8.3e-7 … 2.2e-6                           2.0e-6 … 2.5e-6
///   cached decoding  0 … 4.2e-7
/// From tiny to small (8 × the width, 4 × the depth) the floor grew about 2.1 ×; one more such step reaches
/// flan-t5-xxl (4096, 24+24): about 2e-6 for logits and 5.3e-6 for gradients. Bounds: logits, encoder states and
/// cached decoding 1e-5, loss 1e-6, gradients 2e-5, each 4 × or more above that estimate, and far below a wrong layer
/// (an O(1) error in its output or gradient). Subtler slips can hide under them (an RMSNorm epsilon of 1e-5 for 1e-6
/// moves flan-t5-tiny's logits by 4.7e-6): the native tests, on the tiny fixtures only, use bounds 5 × their floor.
///
/// fp16 (weights, activations and gradients in half; FLOAT partials and statistics): the floor is set by fp16's unit
/// roundoff u = 2^-11 = 4.9e-4, which the weights alone carry. Measured on flan-t5-tiny and hf-t5-tiny (Zen 4
/// default and Sandybridge kernels): logits 9.7e-4 … 1.06e-3 (2.2 u), encoder states 8.9e-4 (1.8 u), loss 7.8e-7 …
/// 1.5e-4 (0.3 u), worst gradient 3.0e-3 … 3.7e-3 (7.6 u). Grown as fp32's did, twice 2.1 ×, to flan-t5-xxl:
/// logits 9.7 u, gradients 34 u. Bounds: logits, encoder states and cached decoding 32 u (1.6e-2), loss 8 u (3.9e-3),
/// gradients 128 u (6.3e-2): 3.3 × (loss 5 ×, gradients 3.8 ×) above the estimate, and still far below the O(1)
/// error of a wrong layer or of an overflow that saturates (flan-t5-tiny-overflow without mitigations: 6.5e-2 … 1.0
/// on its logits, past 32 u as well).
/// </remarks>
public sealed record ParityBounds(double Logits, double Loss, double Encoder, double Gradient, double CachedDecoding)
{
    public const double HalfUnitRoundoff = 1.0 / 2048;

    /// <summary>
    /// Whether a generated row may differ from the reference's where the search met a tie: the session scores its
    /// sequence no worse than the reference's (mean log-probability, teacher-forced), within <see cref="Logits"/>. fp16
    /// may pick either of two candidates that fp32 ranks a hair apart, and a beam search then goes on down another
    /// branch; fp32 must reproduce the reference exactly.
    /// </summary>
    public bool TiesAllowed { get; init; }

    public static ParityBounds Float32 { get; } = new(1e-5, 1e-6, 1e-5, 2e-5, 1e-5);

    public static ParityBounds Float16 { get; } = new(32 * HalfUnitRoundoff, 8 * HalfUnitRoundoff, 32 * HalfUnitRoundoff,
        128 * HalfUnitRoundoff, 32 * HalfUnitRoundoff) { TiesAllowed = true };

    public static ParityBounds For(Configuration.Precision precision) =>
        precision == Configuration.Precision.Fp16 ? Float16 : Float32;
}
