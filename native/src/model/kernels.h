// The arithmetic of the emulator: matrix products on OpenBLAS sgemm and the fused element-wise kernels
// (RMSNorm, gelu_new, softmax, dropout, cross-entropy), forward and backward. All fp32 row-major;
// reductions that decide accuracy (norm variances, log-sum-exp, weight-gradient sums) accumulate in fp64.
#pragma once

#include <cstdint>
#include <limits>

#include "model/thread_pool.h"

namespace ft5::model::kernels {

// torch.finfo(float32).min: the additive mask value Hugging Face uses.
inline constexpr float kMaskValue = -std::numeric_limits<float>::max();

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, op = transpose when the flag is set.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Linear layer with an HF weight W[out, in]: y[rows, out] = x[rows, in] W^T (+ beta y).
inline void linear(const float* x, const float* w, float* y, int64_t rows, int64_t in, int64_t out, float beta = 0) {
    gemm(false, true, rows, out, in, 1.0f, x, in, w, in, beta, y, out);
}
// dx[rows, in] = dy[rows, out] W (+ beta dx).
inline void linear_grad_input(const float* dy, const float* w, float* dx, int64_t rows, int64_t in, int64_t out,
                              float beta = 0) {
    gemm(false, false, rows, in, out, 1.0f, dy, out, w, in, beta, dx, in);
}
// dW[out, in] += dy^T x.
inline void linear_grad_weight(const float* dy, const float* x, float* dw, int64_t rows, int64_t in, int64_t out) {
    gemm(true, false, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dw, in);
}

// y = w * x * rsqrt(mean(x^2) + eps) per row; inv_rms[row] keeps the rsqrt for the backward pass.
void rmsnorm_forward(ThreadPool& pool, const float* x, const float* w, float* y, float* inv_rms, int64_t rows,
                     int64_t d, float eps);
// dx += d(y)/d(x)^T dy; dw += sum over rows of dy * x * inv_rms.
void rmsnorm_backward(ThreadPool& pool, const float* x, const float* w, const float* inv_rms, const float* dy,
                      float* dx, float* dw, int64_t rows, int64_t d);

float gelu_new(float x) noexcept;
// gated: out = gelu_new(h0) * h1; relu: out = max(h0, 0) (h1 unused).
void ffn_activation_forward(ThreadPool& pool, bool gated, const float* h0, const float* h1, float* out, int64_t n);
// In place: h0 <- d out/d h0 * dout, h1 <- d out/d h1 * dout (gated only).
void ffn_activation_backward(ThreadPool& pool, bool gated, float* h0, float* h1, const float* dout, int64_t n);

// Row softmax in place; a row whose entries are all -inf becomes uniform instead of NaN.
void softmax_rows(float* x, int64_t rows, int64_t n);

// Counter-based dropout: element i of the stream at `key` is kept when hash(key + i) clears p.
// The same (key, p) reproduces the same mask, so the backward pass regenerates it instead of storing it.
struct Dropout {
    uint64_t key = 0;
    float p = 0;
    bool active() const noexcept { return p > 0; }
};
// x[i] = keep(i) ? x[i] / (1 - p) : 0 for i in [0, n).
void dropout_apply(ThreadPool& pool, const Dropout& d, float* x, int64_t n);
// dst[i] = keep(i) ? src[i] / (1 - p) : 0; offset = index of src[0] in the stream.
void dropout_copy(const Dropout& d, const float* src, float* dst, int64_t n, uint64_t offset);

// Mean cross-entropy over rows with label != -100. Replaces logits by d(loss * weight)/d(logits) when
// want_grad. Returns the number of counted rows through out_count and the mean loss (0 when none).
double cross_entropy(ThreadPool& pool, float* logits, const int32_t* labels, int64_t rows, int64_t vocab,
                     bool want_grad, float weight, int64_t* out_count);

}  // namespace ft5::model::kernels
