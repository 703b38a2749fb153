// CPU kernels of the TIN shift: each (n, t, c) row of `inner` elements is a
// blend of at most two source rows (the taps of the shared math), in parallel
// over rows; the offset gradient sums each row's term in parallel, then adds
// the rows of each group in a fixed order (deterministic).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <vector>

#include "../../common/cpu_alloc.h"
#include "../../common/cpu_clones.h"
#include "tin_shift.h"
#include "tin_shift_math.h"

namespace actionkit::kernels::tin_shift {
namespace {

// out = wa * a + wb * b over one row (b may be null: out = wa * a; both null:
// zeros). float and double get vector clones; the 16-bit types go through float.
template <typename scalar_t, typename acc_t>
inline void blend_row(scalar_t* out, const scalar_t* a, acc_t wa, const scalar_t* b, acc_t wb,
                      int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    acc_t v = acc_t(0);
    if (a) v += wa * static_cast<acc_t>(a[i]);
    if (b) v += wb * static_cast<acc_t>(b[i]);
    out[i] = static_cast<scalar_t>(v);
  }
}

template <typename T>
AK_CPU_CLONES void blend_row_vec(T* out, const T* a, T wa, const T* b, T wb, int64_t n) {
  if (a && b) {
    for (int64_t i = 0; i < n; ++i) out[i] = wa * a[i] + wb * b[i];
  } else if (a || b) {
    const T* s = a ? a : b;
    const T w = a ? wa : wb;
    for (int64_t i = 0; i < n; ++i) out[i] = w * s[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = T(0);
  }
}

template <>
inline void blend_row<float, float>(float* out, const float* a, float wa, const float* b, float wb,
                                    int64_t n) {
  blend_row_vec<float>(out, a, wa, b, wb, n);
}

template <>
inline void blend_row<double, double>(double* out, const double* a, double wa, const double* b,
                                      double wb, int64_t n) {
  blend_row_vec<double>(out, a, wa, b, wb, n);
}

// sum of g * (b - a) over one row (a, b may be null: zero there), in double.
template <typename scalar_t>
inline double slope_dot(const scalar_t* g, const scalar_t* a, const scalar_t* b, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double d = 0.0;
    if (b) d += static_cast<double>(b[i]);
    if (a) d -= static_cast<double>(a[i]);
    sum += static_cast<double>(g[i]) * d;
  }
  return sum;
}

// Row (n, t, c) of the [N, T, C, inner] block: its frame and its offset's index.
struct Row {
  int64_t frame, offset;
};

inline Row decode(int64_t row, const Dims& d) {
  const int64_t c = row % d.channels;
  const int64_t n = row / (d.channels * d.frames);
  return {(row / d.channels) % d.frames, n * d.groups + c / (d.channels / d.groups)};
}

int64_t grain_rows(const Dims& d, int64_t element_size) {
  // chunks of about 64 KiB so small rows do not drown in scheduling
  return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(d.inner * element_size, 1));
}

at::Tensor shift_cpu(const at::Tensor& x, const at::Tensor& offsets, const Dims& d, double sign) {
  at::Tensor out = empty_output(x.sizes(), x.options());
  const int64_t rows = d.batches * d.frames * d.channels;
  const int64_t step = d.channels * d.inner;  // one frame
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "tin_shift", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* src = x.const_data_ptr<scalar_t>();
    scalar_t* dst = out.mutable_data_ptr<scalar_t>();
    const acc_t* off = offsets.const_data_ptr<acc_t>();
    at::parallel_for(0, rows, grain_rows(d, x.element_size()), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const Row r = decode(row, d);
        const Taps<acc_t> tp = taps(r.frame, static_cast<acc_t>(sign) * off[r.offset], d.frames);
        const scalar_t* base = src + (row - r.frame * d.channels) * d.inner;  // its frame 0
        blend_row<scalar_t, acc_t>(dst + row * d.inner, tp.s0 >= 0 ? base + tp.s0 * step : nullptr,
                                   tp.w0, tp.s1 >= 0 ? base + tp.s1 * step : nullptr, tp.w1,
                                   d.inner);
      }
    });
  });
  return out;
}

at::Tensor offset_grad_cpu(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& offsets,
                           const Dims& d) {
  const int64_t rows = d.batches * d.frames * d.channels;
  const int64_t step = d.channels * d.inner;
  at::Tensor result = at::empty({d.batches, d.groups}, offsets.options());
  std::vector<double> row_sums(rows, 0.0);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "tin_shift", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* src = x.const_data_ptr<scalar_t>();
    const acc_t* off = offsets.const_data_ptr<acc_t>();
    at::parallel_for(0, rows, grain_rows(d, x.element_size()), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const Row r = decode(row, d);
        const acc_t o = off[r.offset];
        const Slope sl = slope(r.frame, o, d.frames);
        if (!sl.finite) {
          row_sums[row] = static_cast<double>(o - o);  // NaN
          continue;
        }
        const scalar_t* base = src + (row - r.frame * d.channels) * d.inner;
        row_sums[row] = slope_dot(g + row * d.inner, sl.s0 >= 0 ? base + sl.s0 * step : nullptr,
                                  sl.s1 >= 0 ? base + sl.s1 * step : nullptr, d.inner);
      }
    });
    std::vector<double> sums(d.batches * d.groups, 0.0);
    for (int64_t row = 0; row < rows; ++row) sums[decode(row, d).offset] += row_sums[row];
    acc_t* out = result.mutable_data_ptr<acc_t>();
    for (size_t i = 0; i < sums.size(); ++i) out[i] = static_cast<acc_t>(sums[i]);
  });
  return result;
}

constexpr Backend kCpu{&shift_cpu, &offset_grad_cpu};

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("tin_shift", &forward_op<kCpu>);
  m.impl("_tin_shift_backward", &backward_op<kCpu>);
}

}  // namespace actionkit::kernels::tin_shift
