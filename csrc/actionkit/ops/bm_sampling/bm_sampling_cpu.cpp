// CPU kernels of the boundary-matching sampling, in parallel over (n, c) rows.
// For a given (sample, duration), every start reads the same taps shifted by
// the start (relative_point in the shared math), so each output row is a short
// correlation over starts that the compiler vectorises.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "../../common/cpu_alloc.h"
#include "../../common/cpu_clones.h"
#include "bm_sampling.h"

namespace actionkit::kernels::bm_sampling {
namespace {

// The relative points of every duration, and the zero padding that lets every
// start of every proposal use them: points beyond either end of the clip read
// padded zeros, which is what dropping them does. One exception: a point in
// (-1, 0) gives its lower share to frame 0, not to frame -1 (the reference
// truncates toward zero), which `fix_start` corrects for the single start
// concerned.
template <typename acc_t>
struct Plan {
  int64_t frames, points, per_bin, pad_left, padded;
  std::vector<int64_t> base;       // [T, S*P]
  std::vector<acc_t> w_low;        // [T, S*P]
  std::vector<acc_t> w_high;       // [T, S*P]
  std::vector<int64_t> fix_start;  // [T, S*P]: start whose point lies in (-1, 0), or -1

  explicit Plan(const Params& p)
      : frames(p.frames), points(p.samples * p.per_bin), per_bin(p.per_bin) {
    const int64_t t = p.frames;
    base.resize(t * points);
    w_low.resize(t * points);
    w_high.resize(t * points);
    fix_start.assign(t * points, -1);
    const double scale = 1.0 / static_cast<double>(p.per_bin);
    int64_t lowest = 0, highest = t;
    for (int64_t d = 0; d < t; ++d) {
      for (int64_t j = 0; j < points; ++j) {
        const RelativePoint r = relative_point(p, d, j);
        const int64_t k = d * points + j;
        base[k] = r.base;
        w_low[k] = static_cast<acc_t>(scale * (1.0 - r.frac));
        w_high[k] = static_cast<acc_t>(scale * r.frac);
        const int64_t start = -1 - r.base;  // start + point in [-1, 0)
        if (r.frac > 0.0 && start >= 0 && start < t - d) fix_start[k] = start;
        lowest = std::min(lowest, r.base);
        highest = std::max(highest, (t - d - 1) + r.base + 2);  // one past the last read
      }
    }
    pad_left = -lowest;
    padded = pad_left + highest;
  }

  int64_t at(int64_t d, int64_t s, int64_t j) const { return d * points + s * per_bin + j; }
};

// One (n, c) row. `in` is the row's input, zero-padded: [S or 1, padded]; out
// receives [S, T, T] (sampling, overwritten) or accumulates into [T, T] (sum).
template <typename acc_t>
AK_ALWAYS_INLINE void forward_row(const Params& p, const Plan<acc_t>& plan, const acc_t* in,
                                  bool sum, acc_t* out) {
  const int64_t t_len = p.frames;
  for (int64_t s = 0; s < p.samples; ++s) {
    const acc_t* row = in + (sum ? s * plan.padded : 0) + plan.pad_left;
    for (int64_t d = 0; d < t_len; ++d) {
      acc_t* dst = out + (sum ? d * t_len : (s * t_len + d) * t_len);
      const int64_t valid = t_len - d;
      if (!sum) std::fill(dst, dst + t_len, acc_t(0));  // starts >= valid stay zero
      for (int64_t j = 0; j < p.per_bin; ++j) {
        const int64_t k = plan.at(d, s, j);
        const acc_t wl = plan.w_low[k], wh = plan.w_high[k];
        const acc_t* lo = row + plan.base[k];
        for (int64_t start = 0; start < valid; ++start) {
          dst[start] += wl * lo[start] + wh * lo[start + 1];
        }
        if (plan.fix_start[k] >= 0) dst[plan.fix_start[k]] += wl * row[0];
      }
    }
  }
}

// The backward's accumulation buffer: per input sequence, the padded frames
// with kMargin spare slots on each side, on a grid of kMargin elements.
constexpr int64_t kMargin = 8;

template <typename acc_t>
int64_t acc_stride(const Plan<acc_t>& plan) {
  return (plan.padded + 2 * kMargin + kMargin - 1) / kMargin * kMargin;
}

// acc[i] += wl * g[i] + wh * g[i - 1] for i in [0, n).
template <typename acc_t>
AK_ALWAYS_INLINE void add_taps(acc_t* __restrict acc, const acc_t* __restrict g, int64_t n,
                               acc_t wl, acc_t wh) {
  for (int64_t i = 0; i < n; ++i) acc[i] += wl * g[i] + wh * g[i - 1];
}

// The backward of one row: a point at base b with weights (wl, wh) sends
// wl * g[start] to frame start + b and wh * g[start] to start + b + 1. Written
// as a gather per destination over whole blocks of kMargin: every pass reads
// and writes `acc` on the same grid (a pass at another alignment would read
// values still in flight from the last one's stores, which stalls), and reads
// g from a zero-padded copy so the blocks' spare ends add zeros.
template <typename acc_t>
AK_ALWAYS_INLINE void backward_row(const Params& p, const Plan<acc_t>& plan, const acc_t* grad,
                                   bool sum, acc_t* acc, acc_t* gpad) {
  const int64_t t_len = p.frames, stride = acc_stride(plan);
  acc_t* gz = gpad + kMargin + 1;  // gz[m] for m in [-kMargin - 1, t_len + kMargin)
  for (int64_t s = 0; s < p.samples; ++s) {
    const int64_t origin = (sum ? s * stride : 0) + kMargin + plan.pad_left;  // frame 0
    for (int64_t d = 0; d < t_len; ++d) {
      const acc_t* g = grad + (sum ? d * t_len : (s * t_len + d) * t_len);
      const int64_t valid = t_len - d;
      std::fill(gpad, gz, acc_t(0));
      std::copy(g, g + valid, gz);
      std::fill(gz + valid, gz + valid + kMargin, acc_t(0));
      for (int64_t j = 0; j < p.per_bin; ++j) {
        const int64_t k = plan.at(d, s, j);
        const acc_t wl = plan.w_low[k], wh = plan.w_high[k];
        const int64_t first = origin + plan.base[k];  // where g[0] lands
        const int64_t u0 = first / kMargin * kMargin;
        const int64_t u1 = (first + valid + 1 + kMargin - 1) / kMargin * kMargin;
        add_taps(acc + u0, gz + (u0 - first), u1 - u0, wl, wh);
        if (plan.fix_start[k] >= 0) acc[origin] += wl * g[plan.fix_start[k]];
      }
    }
  }
}

// The row kernels for float and double, cloned per ISA (the 16-bit dtypes
// compute in float).
AK_CPU_CLONES void forward_row_f32(const Params& p, const Plan<float>& plan, const float* in,
                                   bool sum, float* out) {
  forward_row(p, plan, in, sum, out);
}
AK_CPU_CLONES void forward_row_f64(const Params& p, const Plan<double>& plan, const double* in,
                                   bool sum, double* out) {
  forward_row(p, plan, in, sum, out);
}
AK_CPU_CLONES void backward_row_f32(const Params& p, const Plan<float>& plan, const float* grad,
                                    bool sum, float* acc, float* gpad) {
  backward_row(p, plan, grad, sum, acc, gpad);
}
AK_CPU_CLONES void backward_row_f64(const Params& p, const Plan<double>& plan, const double* grad,
                                    bool sum, double* acc, double* gpad) {
  backward_row(p, plan, grad, sum, acc, gpad);
}

template <typename acc_t>
void run_forward_row(const Params& p, const Plan<acc_t>& plan, const acc_t* in, bool sum,
                     acc_t* out) {
  if constexpr (std::is_same_v<acc_t, float>) {
    forward_row_f32(p, plan, in, sum, out);
  } else {
    forward_row_f64(p, plan, in, sum, out);
  }
}

template <typename acc_t>
void run_backward_row(const Params& p, const Plan<acc_t>& plan, const acc_t* grad, bool sum,
                      acc_t* acc, acc_t* gpad) {
  if constexpr (std::is_same_v<acc_t, float>) {
    backward_row_f32(p, plan, grad, sum, acc, gpad);
  } else {
    backward_row_f64(p, plan, grad, sum, acc, gpad);
  }
}

// A float/double row is used in place; a 16-bit one is converted into `buf`.
template <typename acc_t, typename scalar_t>
const acc_t* as_acc(const scalar_t* row, int64_t len, std::vector<acc_t>& buf) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    return row;
  } else {
    buf.resize(len);
    for (int64_t i = 0; i < len; ++i) buf[i] = static_cast<acc_t>(row[i]);
    return buf.data();
  }
}

// The row itself when it can hold acc_t values directly, else nullptr.
template <typename acc_t, typename scalar_t>
acc_t* writable_as_acc(scalar_t* row) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    return row;
  } else {
    return nullptr;
  }
}

at::Tensor forward_cpu(const at::Tensor& input_in, const Params& p, bool sum) {
  const at::Tensor input = input_in.contiguous();
  const int64_t n = input.size(0), c = input.size(1), t = p.frames;
  at::Tensor out = sum ? empty_output({n, c, t, t}, input.options())
                       : empty_output({n, c, p.samples, t, t}, input.options());
  const int64_t seqs = sum ? p.samples : 1;  // input sequences per row
  const int64_t out_row = (sum ? 1 : p.samples) * t * t;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, input.scalar_type(), "bm_sampling", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const Plan<acc_t> plan(p);
        const scalar_t* src = input.const_data_ptr<scalar_t>();
        scalar_t* dst = out.mutable_data_ptr<scalar_t>();
        at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
          std::vector<acc_t> in(seqs * plan.padded), acc;
          for (int64_t row = begin; row < end; ++row) {
            for (int64_t q = 0; q < seqs; ++q) {
              acc_t* seq = in.data() + q * plan.padded + plan.pad_left;
              for (int64_t i = 0; i < t; ++i)
                seq[i] = static_cast<acc_t>(src[(row * seqs + q) * t + i]);
            }
            // Sampling rows of float/double are written in place.
            acc_t* direct = sum ? nullptr : writable_as_acc<acc_t>(dst + row * out_row);
            if (direct != nullptr) {
              run_forward_row(p, plan, in.data(), sum, direct);
              continue;
            }
            acc.assign(out_row, acc_t(0));
            run_forward_row(p, plan, in.data(), sum, acc.data());
            for (int64_t i = 0; i < out_row; ++i)
              dst[row * out_row + i] = static_cast<scalar_t>(acc[i]);
          }
        });
      });
  return out;
}

at::Tensor backward_cpu(const at::Tensor& grad_in, const Params& p, bool sum) {
  const at::Tensor grad = grad_in.contiguous();
  const int64_t n = grad.size(0), c = grad.size(1), t = p.frames;
  at::Tensor gin =
      sum ? at::empty({n, c, p.samples, t}, grad.options()) : at::empty({n, c, t}, grad.options());
  const int64_t seqs = sum ? p.samples : 1;
  const int64_t grad_row = (sum ? 1 : p.samples) * t * t;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, grad.scalar_type(), "bm_sampling_backward", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const Plan<acc_t> plan(p);
        const scalar_t* src = grad.const_data_ptr<scalar_t>();
        scalar_t* dst = gin.mutable_data_ptr<scalar_t>();
        at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
          const int64_t stride = acc_stride(plan);
          std::vector<acc_t> g, acc(seqs * stride), gpad(t + 2 * kMargin + 1);
          for (int64_t row = begin; row < end; ++row) {
            const acc_t* grow = as_acc(src + row * grad_row, grad_row, g);
            std::fill(acc.begin(), acc.end(), acc_t(0));
            run_backward_row(p, plan, grow, sum, acc.data(), gpad.data());
            for (int64_t q = 0; q < seqs; ++q) {
              const acc_t* seq = acc.data() + q * stride + kMargin + plan.pad_left;
              for (int64_t i = 0; i < t; ++i)
                dst[(row * seqs + q) * t + i] = static_cast<scalar_t>(seq[i]);
            }
          }
        });
      });
  return gin;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("bm_sampling", &sampling_op<&forward_cpu>);
  m.impl("bm_sampling_sum", &sum_op<&forward_cpu>);
  m.impl("_bm_sampling_backward", &sampling_backward_op<&backward_cpu>);
  m.impl("_bm_sampling_sum_backward", &sum_backward_op<&backward_cpu>);
}

}  // namespace actionkit::kernels::bm_sampling
