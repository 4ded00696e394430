#include "model/kernels.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ft5::model::kernels {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0 ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc));
}

void rmsnorm_forward(ThreadPool& pool, const float* x, const float* w, float* y, float* inv_rms, int64_t rows,
                     int64_t d, float eps) {
    pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r) {
            const float* xr = x + r * d;
            float* yr = y + r * d;
            double ss = 0;
            for (int64_t j = 0; j < d; ++j) ss += double(xr[j]) * xr[j];
            const float var = float(ss / double(d));
            const float inv = 1.0f / std::sqrt(var + eps);
            inv_rms[r] = inv;
            for (int64_t j = 0; j < d; ++j) yr[j] = w[j] * (xr[j] * inv);
        }
    }, 64);
}

void rmsnorm_backward(ThreadPool& pool, const float* x, const float* w, const float* inv_rms, const float* dy,
                      float* dx, float* dw, int64_t rows, int64_t d) {
    // dx_j = r (w_j dy_j) - x_j r^3 / d * sum_k w_k dy_k x_k
    pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r) {
            const float* xr = x + r * d;
            const float* gr = dy + r * d;
            float* dxr = dx + r * d;
            const double inv = inv_rms[r];
            double dot = 0;
            for (int64_t j = 0; j < d; ++j) dot += double(w[j]) * gr[j] * xr[j];
            const double c = dot * inv * inv * inv / double(d);
            for (int64_t j = 0; j < d; ++j) dxr[j] += float(inv * double(w[j]) * gr[j] - c * xr[j]);
        }
    }, 64);
    pool.parallel_for(size_t(d), [&](size_t j0, size_t j1) {
        std::vector<double> acc(j1 - j0, 0.0);
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * d;
            const float* gr = dy + r * d;
            const double inv = inv_rms[r];
            for (size_t j = j0; j < j1; ++j) acc[j - j0] += double(gr[j]) * xr[j] * inv;
        }
        for (size_t j = j0; j < j1; ++j) dw[j] += float(acc[j - j0]);
    }, rows >= 64 ? 64 : size_t(d));
}

namespace {
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluK = 0.044715f;
}  // namespace

namespace {
// tanh through one expf: glibc's tanhf (via expm1f) dominated the FFN activation; the absolute error of
// this form is ~1e-7, far inside the model's fp32 tolerance.
inline float fast_tanh(float u) noexcept { return 1.0f - 2.0f / (1.0f + std::exp(2.0f * u)); }
}  // namespace

float gelu_new(float x) noexcept { return 0.5f * x * (1.0f + fast_tanh(kGeluC * (x + kGeluK * x * x * x))); }

void ffn_activation_forward(ThreadPool& pool, bool gated, const float* h0, const float* h1, float* out, int64_t n) {
    pool.parallel_for(size_t(n), [&](size_t i0, size_t i1) {
        if (gated) {
            for (size_t i = i0; i < i1; ++i) out[i] = gelu_new(h0[i]) * h1[i];
        } else {
            for (size_t i = i0; i < i1; ++i) out[i] = h0[i] > 0.0f ? h0[i] : 0.0f;
        }
    }, 32768);
}

void ffn_activation_backward(ThreadPool& pool, bool gated, float* h0, float* h1, const float* dout, int64_t n) {
    pool.parallel_for(size_t(n), [&](size_t i0, size_t i1) {
        if (gated) {
            for (size_t i = i0; i < i1; ++i) {
                const float x = h0[i];
                const float t = fast_tanh(kGeluC * (x + kGeluK * x * x * x));
                const float gelu = 0.5f * x * (1.0f + t);
                const float dgelu =
                    0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kGeluC * (1.0f + 3.0f * kGeluK * x * x);
                h0[i] = dout[i] * h1[i] * dgelu;
                h1[i] = dout[i] * gelu;
            }
        } else {
            for (size_t i = i0; i < i1; ++i) h0[i] = h0[i] > 0.0f ? dout[i] : 0.0f;
        }
    }, 32768);
}

void softmax_rows(float* x, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) {
        float* xr = x + r * n;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, xr[j]);
        if (mx == -std::numeric_limits<float>::infinity()) {
            for (int64_t j = 0; j < n; ++j) xr[j] = 1.0f / float(n);
            continue;
        }
        float sum = 0;
        for (int64_t j = 0; j < n; ++j) {
            xr[j] = std::exp(xr[j] - mx);
            sum += xr[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; ++j) xr[j] *= inv;
    }
}

namespace {
inline uint64_t splitmix64(uint64_t z) noexcept {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
inline bool keep(uint64_t key, uint64_t i, uint32_t threshold) noexcept {
    return uint32_t(splitmix64(key + i) >> 40) >= threshold;  // 24 uniform bits against p * 2^24
}
inline uint32_t threshold_of(float p) noexcept { return uint32_t(double(p) * double(1u << 24)); }
}  // namespace

void dropout_copy(const Dropout& d, const float* src, float* dst, int64_t n, uint64_t offset) {
    const uint32_t t = threshold_of(d.p);
    const float scale = 1.0f / (1.0f - d.p);
    for (int64_t i = 0; i < n; ++i) dst[i] = keep(d.key, offset + uint64_t(i), t) ? src[i] * scale : 0.0f;
}

void dropout_apply(ThreadPool& pool, const Dropout& d, float* x, int64_t n) {
    if (!d.active()) return;
    pool.parallel_for(size_t(n), [&](size_t i0, size_t i1) {
        dropout_copy(d, x + i0, x + i0, int64_t(i1 - i0), i0);
    }, 32768);
}

double cross_entropy(ThreadPool& pool, float* logits, const int32_t* labels, int64_t rows, int64_t vocab,
                     bool want_grad, float weight, int64_t* out_count) {
    int64_t count = 0;
    for (int64_t r = 0; r < rows; ++r) count += labels[r] != -100 ? 1 : 0;
    *out_count = count;
    std::vector<double> row_loss(size_t(rows), 0.0);
    const double scale = count > 0 ? double(weight) / double(count) : 0.0;
    pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r) {
            float* lr = logits + r * vocab;
            const int32_t label = labels[r];
            if (label == -100) {
                if (want_grad) std::fill(lr, lr + vocab, 0.0f);
                continue;
            }
            float mx = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < vocab; ++j) mx = std::max(mx, lr[j]);
            const float label_logit = lr[label];
            double sum = 0;
            if (want_grad) {
                for (int64_t j = 0; j < vocab; ++j) {
                    lr[j] = std::exp(lr[j] - mx);
                    sum += lr[j];
                }
            } else {
                for (int64_t j = 0; j < vocab; ++j) sum += std::exp(lr[j] - mx);
            }
            row_loss[r] = double(mx) + std::log(sum) - double(label_logit);
            if (want_grad) {
                const float f = float(scale / sum);
                for (int64_t j = 0; j < vocab; ++j) lr[j] *= f;
                lr[label] -= float(scale);
            }
        }
    }, 1);
    double total = 0;
    for (double l : row_loss) total += l;
    return count > 0 ? total / double(count) : 0.0;
}

}  // namespace ft5::model::kernels
