// CUDA kernels of TV-L1 optical flow: one kernel per step of the CPU kernel, over the
// same per-pixel math, a block row per pair (blockIdx.y) striding over its pixels. The
// primal step sums each pair's squared change of the flow by warp shuffles and one atomic
// add per warp; a one-thread-per-pair kernel then decides which pairs go on iterating,
// so the host reads the flags back only once per outer iteration, to stop early.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../../common/cuda_launch.h"
#include "optical_flow_cuda.h"

namespace actionkit::kernels::optical_flow::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kFull = 0xffffffffu;

#define AK_PAIR_PIXELS(k, plane)                                                             \
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < (plane); \
       k += static_cast<int64_t>(blockDim.x) * gridDim.x)

__global__ void resize_kernel(const float* src, float* dst, int64_t sh, int64_t sw, int64_t h,
                              int64_t w, double scale_y, double scale_x, float factor) {
  const int64_t n = blockIdx.y;
  AK_PAIR_PIXELS(k, h * w) {
    dst[n * h * w + k] =
        resize_linear(src + n * sh * sw, sh, sw, k / w, k % w, scale_y, scale_x) * factor;
  }
}

__global__ void gradient_kernel(const float* i1, float* i1x, float* i1y, float* p11, float* p12,
                                float* p21, float* p22, int64_t h, int64_t w) {
  const int64_t o = static_cast<int64_t>(blockIdx.y) * h * w;
  AK_PAIR_PIXELS(k, h * w) {
    centered_gradient(i1 + o, h, w, k / w, k % w, i1x[o + k], i1y[o + k]);
    p11[o + k] = p12[o + k] = p21[o + k] = p22[o + k] = 0.0f;
  }
}

__global__ void warp_kernel(const float* i0, const float* i1, const float* i1x, const float* i1y,
                            const float* u1, const float* u2, float* ix, float* iy, float* grad,
                            float* rho_c, int64_t h, int64_t w) {
  const int64_t o = static_cast<int64_t>(blockIdx.y) * h * w;
  AK_PAIR_PIXELS(k, h * w) {
    const Warped r =
        warp_pixel(i0 + o, i1 + o, i1x + o, i1y + o, u1[o + k], u2[o + k], h, w, k / w, k % w);
    ix[o + k] = r.ix, iy[o + k] = r.iy, grad[o + k] = r.grad, rho_c[o + k] = r.rho_c;
  }
}

__global__ void reset_kernel(int* active, float* error, int64_t pairs) {
  AK_GRID_STRIDE_LOOP(n, pairs) { active[n] = 1, error[n] = 0.0f; }
}

__global__ void median_kernel(const int* active, const float* u1, const float* u2, float* t1,
                              float* t2, int64_t h, int64_t w, int size) {
  const int64_t n = blockIdx.y, o = n * h * w;
  if (!active[n]) return;
  AK_PAIR_PIXELS(k, h * w) {
    t1[o + k] = median_pixel(u1 + o, h, w, k / w, k % w, size);
    t2[o + k] = median_pixel(u2 + o, h, w, k / w, k % w, size);
  }
}

__global__ void copy_kernel(const int* active, const float* t1, const float* t2, float* u1,
                            float* u2, int64_t plane) {
  const int64_t n = blockIdx.y, o = n * plane;
  if (!active[n]) return;
  AK_PAIR_PIXELS(k, plane) { u1[o + k] = t1[o + k], u2[o + k] = t2[o + k]; }
}

__global__ void primal_kernel(const int* active, const float* ix, const float* iy,
                              const float* grad, const float* rho_c, const float* p11,
                              const float* p12, const float* p21, const float* p22, float* u1,
                              float* u2, float* error, int64_t h, int64_t w, float l_t,
                              float theta) {
  const int64_t n = blockIdx.y, o = n * h * w;
  if (!active[n]) return;  // the whole block: no thread is left at the shuffles
  float sum = 0.0f;
  AK_PAIR_PIXELS(k, h * w) {
    const int64_t y = k / w, x = k % w;
    const float d1 = divergence(p11 + o, p12 + o, w, y, x);
    const float d2 = divergence(p21 + o, p22 + o, w, y, x);
    sum += primal_step(ix[o + k], iy[o + k], grad[o + k], rho_c[o + k], d1, d2, l_t, theta,
                       u1[o + k], u2[o + k]);
  }
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(kFull, sum, offset);
  if (threadIdx.x % 32 == 0) atomicAdd(error + n, sum);
}

__global__ void dual_kernel(const int* active, const float* u1, const float* u2, float* p11,
                            float* p12, float* p21, float* p22, int64_t h, int64_t w, float taut) {
  const int64_t n = blockIdx.y, o = n * h * w;
  if (!active[n]) return;
  AK_PAIR_PIXELS(k, h * w) {
    dual_step(u1 + o, u2 + o, h, w, k / w, k % w, taut, p11[o + k], p12[o + k], p21[o + k],
              p22[o + k]);
  }
}

__global__ void decide_kernel(int* active, float* error, int64_t pairs, float threshold) {
  AK_GRID_STRIDE_LOOP(n, pairs) {
    if (active[n]) active[n] = error[n] > threshold;
    error[n] = 0.0f;
  }
}

__global__ void output_kernel(const float* u1, const float* u2, float* out, int64_t plane) {
  const int64_t n = blockIdx.y;
  AK_PAIR_PIXELS(k, plane) {
    out[2 * n * plane + k] = u1[n * plane + k];
    out[(2 * n + 1) * plane + k] = u2[n * plane + k];
  }
}

dim3 pair_grid(int64_t plane, int64_t pairs) {
  const int64_t blocks =
      std::min<int64_t>(std::max<int64_t>((plane + kThreads - 1) / kThreads, 1), 256);
  return dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(pairs));
}

}  // namespace

void launch(const float* frames_a, const float* frames_b, float* out, const Params& p,
            const Workspace& ws, void* stream_ptr) {
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  const int64_t pairs = p.pairs, full = pairs * p.height * p.width;
  const dim3 threads(kThreads), per_pair(detail::num_blocks(pairs));
  // the pyramids: level 0 is the frames, each level a resize of the one before
  cudaMemcpyAsync(ws.i0, frames_a, sizeof(float) * full, cudaMemcpyDeviceToDevice, stream);
  cudaMemcpyAsync(ws.i1, frames_b, sizeof(float) * full, cudaMemcpyDeviceToDevice, stream);
  for (int64_t l = 1; l < p.levels; ++l) {
    const double scale = 1.0 / p.scale_step;
    for (float* pyr : {ws.i0, ws.i1}) {
      AK_LAUNCH(resize_kernel, pair_grid(p.h[l] * p.w[l], pairs), threads, stream,
                pyr + p.offset[l - 1], pyr + p.offset[l], p.h[l - 1], p.w[l - 1], p.h[l], p.w[l],
                scale, scale, 1.0f);
    }
  }
  detail::check_launch("optical_flow_tvl1 (pyramid)");
  float *u1 = ws.u1, *u2 = ws.u2, *t1 = ws.t1, *t2 = ws.t2;
  const int64_t top = p.levels - 1;
  cudaMemsetAsync(u1, 0, sizeof(float) * pairs * p.h[top] * p.w[top], stream);
  cudaMemsetAsync(u2, 0, sizeof(float) * pairs * p.h[top] * p.w[top], stream);
  const float l_t = p.lambd * p.theta, taut = p.tau / p.theta;
  std::vector<int> flags(pairs);
  for (int64_t l = top; l >= 0; --l) {
    const int64_t h = p.h[l], w = p.w[l];
    const dim3 grid = pair_grid(h * w, pairs);
    const float* i0 = ws.i0 + p.offset[l];
    const float* i1 = ws.i1 + p.offset[l];
    const float threshold = static_cast<float>(p.epsilon * p.epsilon * static_cast<double>(h * w));
    AK_LAUNCH(gradient_kernel, grid, threads, stream, i1, ws.i1x, ws.i1y, ws.p11, ws.p12, ws.p21,
              ws.p22, h, w);
    for (int64_t warp = 0; warp < p.warps; ++warp) {
      AK_LAUNCH(warp_kernel, grid, threads, stream, i0, i1, ws.i1x, ws.i1y, u1, u2, ws.ix, ws.iy,
                ws.grad, ws.rho_c, h, w);
      AK_LAUNCH(reset_kernel, per_pair, threads, stream, ws.active, ws.error, pairs);
      for (int64_t outer = 0; outer < p.outer_iterations; ++outer) {
        if (outer > 0) {  // has every pair stopped?
          cudaMemcpyAsync(flags.data(), ws.active, sizeof(int) * pairs, cudaMemcpyDeviceToHost,
                          stream);
          cudaStreamSynchronize(stream);
          if (std::find(flags.begin(), flags.end(), 1) == flags.end()) break;
        }
        if (p.median > 1) {
          AK_LAUNCH(median_kernel, grid, threads, stream, ws.active, u1, u2, t1, t2, h, w,
                    static_cast<int>(p.median));
          AK_LAUNCH(copy_kernel, grid, threads, stream, ws.active, t1, t2, u1, u2, h * w);
        }
        for (int64_t inner = 0; inner < p.inner_iterations; ++inner) {
          AK_LAUNCH_BLOCKS(primal_kernel, grid, threads, stream, ws.active, ws.ix, ws.iy, ws.grad,
                           ws.rho_c, ws.p11, ws.p12, ws.p21, ws.p22, u1, u2, ws.error, h, w, l_t,
                           p.theta);
          AK_LAUNCH(dual_kernel, grid, threads, stream, ws.active, u1, u2, ws.p11, ws.p12, ws.p21,
                    ws.p22, h, w, taut);
          AK_LAUNCH(decide_kernel, per_pair, threads, stream, ws.active, ws.error, pairs,
                    threshold);
        }
      }
      detail::check_launch("optical_flow_tvl1 (iterations)");
    }
    if (l == 0) break;
    // the flow up one level: resized to the finer size, scaled by 1 / scale_step
    const int64_t fh = p.h[l - 1], fw = p.w[l - 1];
    const double sy = 1.0 / (static_cast<double>(fh) / h), sx = 1.0 / (static_cast<double>(fw) / w);
    const float up = static_cast<float>(1.0 / p.scale_step);
    AK_LAUNCH(resize_kernel, pair_grid(fh * fw, pairs), threads, stream, u1, t1, h, w, fh, fw, sy,
              sx, up);
    AK_LAUNCH(resize_kernel, pair_grid(fh * fw, pairs), threads, stream, u2, t2, h, w, fh, fw, sy,
              sx, up);
    std::swap(u1, t1);
    std::swap(u2, t2);
  }
  AK_LAUNCH(output_kernel, pair_grid(p.height * p.width, pairs), threads, stream, u1, u2, out,
            p.height * p.width);
  detail::check_launch("optical_flow_tvl1");
}

}  // namespace actionkit::kernels::optical_flow::cuda
