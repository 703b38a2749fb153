// CPU kernel of TV-L1 optical flow: the pairs are solved one at a time (in parallel when
// there are enough of them), each step a loop over the rows of the pairs still iterating
// (a pair stops its inner and outer loops when the summed change of its flow falls to
// epsilon^2 * pixels, as OpenCV's does), over the shared per-pixel math.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "optical_flow.h"

namespace actionkit::kernels::optical_flow {
namespace {

// f(n, y) for every row y of every pair n with active[n] (all pairs without `active`).
template <typename F>
void for_rows(int64_t pairs, int64_t h, int64_t w, const std::vector<char>* active, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(w, 1));
  at::parallel_for(0, pairs * h, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / h;
      if (active != nullptr && !(*active)[n]) continue;
      f(n, r % h);
    }
  });
}

// One row of the k x k median (edge pixels replicated): the windows that need no column
// clamping 8 at a time, the median network on GCC vectors of 8 floats.
template <int K>
void median_row(const float* src, int64_t h, int64_t w, int64_t y, float* out) {
  using V = float __attribute__((vector_size(16)));
  constexpr int r = K / 2, kLanes = sizeof(V) / sizeof(float);
  const float* rows[K];
  for (int i = 0; i < K; ++i) rows[i] = src + clamp_index(y + i - r, h) * w;
  int64_t x = 0;
  for (; x < std::min<int64_t>(r, w); ++x) out[x] = median_pixel(src, h, w, y, x, K);
  for (; x + kLanes <= w - r; x += kLanes) {
    V v[K * K];
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) std::memcpy(&v[i * K + j], rows[i] + x + j - r, sizeof(V));
    const V m = K == 3 ? median_of_9(v) : median_of_25(v);
    std::memcpy(out + x, &m, sizeof(V));
  }
  for (; x < w; ++x) out[x] = median_pixel(src, h, w, y, x, K);
}

struct Buffers {
  std::vector<float> i0, i1;                         // pyramids
  std::vector<float> i1x, i1y, ix, iy, grad, rho_c;  // per level, pairs * h * w used
  std::vector<float> p11, p12, p21, p22, u1, u2, t1, t2;
  std::vector<float> row_error;
};

void build_pyramid(std::vector<float>& pyr, const float* frames, const Params& p) {
  std::memcpy(pyr.data(), frames, sizeof(float) * p.pairs * p.height * p.width);
  for (int64_t l = 1; l < p.levels; ++l) {
    const int64_t h = p.h[l], w = p.w[l], sh = p.h[l - 1], sw = p.w[l - 1];
    const double scale = 1.0 / p.scale_step;
    for_rows(p.pairs, h, w, nullptr, [&](int64_t n, int64_t y) {
      const float* src = pyr.data() + p.offset[l - 1] + n * sh * sw;
      float* dst = pyr.data() + p.offset[l] + (n * h + y) * w;
      for (int64_t x = 0; x < w; ++x) dst[x] = resize_linear(src, sh, sw, y, x, scale, scale);
    });
  }
}

// The flow at level l: iterations of OpenCV's procOneScale for every pair.
void one_level(Buffers& b, const Params& p, int64_t l) {
  const int64_t h = p.h[l], w = p.w[l], plane = h * w;
  const float* i0 = b.i0.data() + p.offset[l];
  const float* i1 = b.i1.data() + p.offset[l];
  const float l_t = p.lambd * p.theta, taut = p.tau / p.theta;
  const float threshold = scaled_epsilon(p, l);
  for_rows(p.pairs, h, w, nullptr, [&](int64_t n, int64_t y) {
    const int64_t k0 = n * plane + y * w;
    for (int64_t x = 0; x < w; ++x) {
      centered_gradient(i1 + n * plane, h, w, y, x, b.i1x[k0 + x], b.i1y[k0 + x]);
      b.p11[k0 + x] = b.p12[k0 + x] = b.p21[k0 + x] = b.p22[k0 + x] = 0.0f;
    }
  });
  std::vector<char> active(p.pairs);
  for (int64_t warp = 0; warp < p.warps; ++warp) {
    for_rows(p.pairs, h, w, nullptr, [&](int64_t n, int64_t y) {
      const int64_t o = n * plane, k0 = o + y * w;
      for (int64_t x = 0; x < w; ++x) {
        const Warped r = warp_pixel(i0 + o, i1 + o, b.i1x.data() + o, b.i1y.data() + o,
                                    b.u1[k0 + x], b.u2[k0 + x], h, w, y, x);
        b.ix[k0 + x] = r.ix, b.iy[k0 + x] = r.iy, b.grad[k0 + x] = r.grad,
                  b.rho_c[k0 + x] = r.rho_c;
      }
    });
    std::fill(active.begin(), active.end(), 1);
    for (int64_t outer = 0; outer < p.outer_iterations; ++outer) {
      if (std::find(active.begin(), active.end(), 1) == active.end()) break;
      if (p.median > 1) {
        for_rows(p.pairs, h, w, &active, [&](int64_t n, int64_t y) {
          const int64_t o = n * plane, k0 = o + y * w;
          const auto filter = p.median == 3 ? &median_row<3> : &median_row<5>;
          filter(b.u1.data() + o, h, w, y, b.t1.data() + k0);
          filter(b.u2.data() + o, h, w, y, b.t2.data() + k0);
        });
        for (int64_t n = 0; n < p.pairs; ++n) {
          if (!active[n]) continue;
          std::copy_n(b.t1.data() + n * plane, plane, b.u1.data() + n * plane);
          std::copy_n(b.t2.data() + n * plane, plane, b.u2.data() + n * plane);
        }
      }
      for (int64_t inner = 0; inner < p.inner_iterations; ++inner) {
        if (std::find(active.begin(), active.end(), 1) == active.end()) break;
        for_rows(p.pairs, h, w, &active, [&](int64_t n, int64_t y) {
          const int64_t o = n * plane, k0 = o + y * w;
          float error = 0.0f;
          for (int64_t x = 0; x < w; ++x) {
            const int64_t k = k0 + x;
            const float d1 = divergence(b.p11.data() + o, b.p12.data() + o, w, y, x);
            const float d2 = divergence(b.p21.data() + o, b.p22.data() + o, w, y, x);
            error += primal_step(b.ix[k], b.iy[k], b.grad[k], b.rho_c[k], d1, d2, l_t, p.theta,
                                 b.u1[k], b.u2[k]);
          }
          b.row_error[n * h + y] = error;
        });
        for_rows(p.pairs, h, w, &active, [&](int64_t n, int64_t y) {
          const int64_t o = n * plane, k0 = o + y * w;
          for (int64_t x = 0; x < w; ++x) {
            const int64_t k = k0 + x;
            dual_step(b.u1.data() + o, b.u2.data() + o, h, w, y, x, taut, b.p11[k], b.p12[k],
                      b.p21[k], b.p22[k]);
          }
        });
        for (int64_t n = 0; n < p.pairs; ++n) {
          if (!active[n]) continue;
          float error = 0.0f;
          for (int64_t y = 0; y < h; ++y) error += b.row_error[n * h + y];
          active[n] = error > threshold;
        }
      }
    }
  }
}

// The flow of the p.pairs pairs at a, b into out ([pairs, 2, H, W]).
void solve(const float* a, const float* c, float* out, const Params& p) {
  const int64_t full = p.pairs * p.height * p.width;
  Buffers b;
  b.i0.resize(pyramid_size(p));
  b.i1.resize(pyramid_size(p));
  for (auto* v : {&b.i1x, &b.i1y, &b.ix, &b.iy, &b.grad, &b.rho_c, &b.p11, &b.p12, &b.p21, &b.p22,
                  &b.u1, &b.u2, &b.t1, &b.t2}) {
    v->resize(full);
  }
  b.row_error.resize(p.pairs * p.height);
  build_pyramid(b.i0, a, p);
  build_pyramid(b.i1, c, p);
  const int64_t top = p.levels - 1;
  std::fill_n(b.u1.begin(), p.pairs * p.h[top] * p.w[top], 0.0f);
  std::fill_n(b.u2.begin(), p.pairs * p.h[top] * p.w[top], 0.0f);
  for (int64_t l = top; l >= 0; --l) {
    one_level(b, p, l);
    if (l == 0) break;
    // the flow up one level: resized to the finer size, scaled by 1 / scale_step
    const int64_t h = p.h[l - 1], w = p.w[l - 1], sh = p.h[l], sw = p.w[l];
    const double sy = 1.0 / (static_cast<double>(h) / sh), sx = 1.0 / (static_cast<double>(w) / sw);
    const float up = static_cast<float>(1.0 / p.scale_step);
    for_rows(p.pairs, h, w, nullptr, [&](int64_t n, int64_t y) {
      const int64_t k0 = (n * h + y) * w;
      for (int64_t x = 0; x < w; ++x) {
        b.t1[k0 + x] = resize_linear(b.u1.data() + n * sh * sw, sh, sw, y, x, sy, sx) * up;
        b.t2[k0 + x] = resize_linear(b.u2.data() + n * sh * sw, sh, sw, y, x, sy, sx) * up;
      }
    });
    std::swap(b.u1, b.t1);
    std::swap(b.u2, b.t2);
  }
  const int64_t plane = p.height * p.width;
  for (int64_t n = 0; n < p.pairs; ++n) {
    std::copy_n(b.u1.data() + n * plane, plane, out + (2 * n) * plane);
    std::copy_n(b.u2.data() + n * plane, plane, out + (2 * n + 1) * plane);
  }
}

at::Tensor optical_flow_tvl1_cpu(const at::Tensor& frames_a, const at::Tensor& frames_b, double tau,
                                 double lambd, double theta, int64_t scales, int64_t warps,
                                 double epsilon, int64_t inner_iterations, int64_t outer_iterations,
                                 double scale_step, int64_t median_filtering) {
  const Params p = check_args(frames_a, frames_b, tau, lambd, theta, scales, warps, epsilon,
                              inner_iterations, outer_iterations, scale_step, median_filtering);
  at::Tensor out = at::empty({p.pairs, 2, p.height, p.width}, frames_a.options());
  if (p.pairs == 0) return out;
  const at::Tensor a = frames_a.contiguous(), c = frames_b.contiguous();
  // One pair at a time (its ~60 floats per pixel stay in cache). Small frames: each thread
  // takes whole pairs (the row loops inside run inline); larger ones (measured: 340 x 256)
  // go faster one after another, each with its rows spread over the threads.
  Params one = p;
  one.pairs = 1;
  for (int64_t l = 0; l < p.levels; ++l) one.offset[l] = p.offset[l] / p.pairs;
  const int64_t plane = p.height * p.width;
  const auto pairs = [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      solve(a.const_data_ptr<float>() + n * plane, c.const_data_ptr<float>() + n * plane,
            out.mutable_data_ptr<float>() + 2 * n * plane, one);
    }
  };
  if (p.pairs > 1 && plane <= 128 * 128) {
    at::parallel_for(0, p.pairs, 1, pairs);
  } else {
    pairs(0, p.pairs);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) { m.impl("optical_flow_tvl1", &optical_flow_tvl1_cpu); }

}  // namespace actionkit::kernels::optical_flow
