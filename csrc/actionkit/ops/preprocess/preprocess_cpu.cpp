// CPU kernel of the fused preprocessing: parallel over output rows (b, t, oy); the
// horizontal taps of each sample are computed once per row.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../../common/cpu_clones.h"
#include "preprocess.h"

namespace actionkit::kernels::preprocess {
namespace {

// The same arithmetic as sample() in preprocess_math.h, split in two passes per output
// row: horizontal blends of the two source rows into planar float buffers (taps computed
// once per clip), then the vertical blend and normalization over contiguous buffers,
// which the compiler vectorizes.
template <int kChannels>
AK_ALWAYS_INLINE void blend_rows(const uint8_t* r0, const uint8_t* r1, const Tap* xs, int64_t out_w,
                                 int64_t channels, float* top, float* bottom) {
  const int64_t C = kChannels > 0 ? kChannels : channels;
  for (int64_t ox = 0; ox < out_w; ++ox) {
    const Tap x = xs[ox];
    const int64_t a = x.i0 * C, b = x.i1 * C;
    for (int64_t c = 0; c < C; ++c) {
      top[c * out_w + ox] =
          static_cast<float>(r0[a + c]) * (1.f - x.w1) + static_cast<float>(r0[b + c]) * x.w1;
      bottom[c * out_w + ox] =
          static_cast<float>(r1[a + c]) * (1.f - x.w1) + static_cast<float>(r1[b + c]) * x.w1;
    }
  }
}

template <typename scalar_t>
AK_CPU_CLONES void run_rows(const uint8_t* src, const float* boxes, const bool* flip,
                            const float* mean, const float* inv_std, scalar_t* out, const Dims& d,
                            int64_t begin, int64_t end) {
  std::vector<Tap> xs(d.out_w);
  std::vector<float> top(d.channels * d.out_w), bottom(d.channels * d.out_w);
  int64_t taps_for = -1;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t oy = row % d.out_h;
    const int64_t t = (row / d.out_h) % d.frames;
    const int64_t b = row / (d.out_h * d.frames);
    const float* box = boxes + 4 * b;
    if (taps_for != b) {
      for (int64_t ox = 0; ox < d.out_w; ++ox) {
        const int64_t sx = flip[b] ? d.out_w - 1 - ox : ox;
        xs[ox] = tap(sx, d.out_w, box[0], box[2], d.width);
      }
      taps_for = b;
    }
    const Tap y = tap(oy, d.out_h, box[1], box[3], d.height);
    const uint8_t* frame = src + (b * d.frames + t) * d.height * d.width * d.channels;
    const uint8_t* r0 = frame + y.i0 * d.width * d.channels;
    const uint8_t* r1 = frame + y.i1 * d.width * d.channels;
    if (d.channels == 3) {
      blend_rows<3>(r0, r1, xs.data(), d.out_w, 3, top.data(), bottom.data());
    } else {
      blend_rows<0>(r0, r1, xs.data(), d.out_w, d.channels, top.data(), bottom.data());
    }
    const float wy1 = y.w1, wy0 = 1.f - y.w1;
    for (int64_t c = 0; c < d.channels; ++c) {
      scalar_t* dst = out + out_index(d, b, c, t, oy, 0);
      const float* tp = top.data() + c * d.out_w;
      const float* bt = bottom.data() + c * d.out_w;
      const float m = mean[c], s = inv_std[c];
      for (int64_t ox = 0; ox < d.out_w; ++ox) {
        dst[ox] = static_cast<scalar_t>((tp[ox] * wy0 + bt[ox] * wy1 - m) * s);
      }
    }
  }
}

at::Tensor preprocess_cpu(const at::Tensor& frames_in, const at::Tensor& boxes_in,
                          const at::Tensor& flip_in, at::IntArrayRef size,
                          at::ArrayRef<double> mean, at::ArrayRef<double> std,
                          c10::string_view layout, std::optional<at::ScalarType> dtype) {
  const Dims d = check_args(frames_in, boxes_in, flip_in, size, mean, std, layout);
  at::Tensor out = make_output(d, frames_in, dtype);
  if (out.numel() == 0) return out;
  const at::Tensor frames = frames_in.contiguous();
  const at::Tensor boxes = boxes_in.to(at::kFloat).contiguous();
  const at::Tensor flip = flip_in.contiguous();
  std::vector<float> m(mean.begin(), mean.end()), inv(std.size());
  for (size_t c = 0; c < std.size(); ++c) inv[c] = static_cast<float>(1.0 / std[c]);
  const int64_t rows = d.batch * d.frames * d.out_h;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(d.out_w * d.channels, 1));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "preprocess", [&] {
    scalar_t* dst = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
      run_rows<scalar_t>(frames.const_data_ptr<uint8_t>(), boxes.const_data_ptr<float>(),
                         flip.const_data_ptr<bool>(), m.data(), inv.data(), dst, d, begin, end);
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) { m.impl("preprocess", &preprocess_cpu); }

}  // namespace actionkit::kernels::preprocess
