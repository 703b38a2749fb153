// CUDA kernel of the fused preprocessing: one thread per output pixel (b, t, oy, ox),
// writing all channels, with the shared per-element math.
#include <cstdint>

#include "../../common/cuda_launch.h"
#include "preprocess_cuda.h"

namespace actionkit::kernels::preprocess::cuda {
namespace {

template <typename scalar_t>
__global__ void preprocess_kernel(const uint8_t* frames, const float* boxes, const bool* flip,
                                  const float* mean, const float* inv_std, scalar_t* out, Dims d,
                                  int64_t total) {
  AK_GRID_STRIDE_LOOP(i, total) {
    const int64_t ox = i % d.out_w;
    const int64_t oy = (i / d.out_w) % d.out_h;
    const int64_t t = (i / (d.out_w * d.out_h)) % d.frames;
    const int64_t b = i / (d.out_w * d.out_h * d.frames);
    const float* box = boxes + 4 * b;
    const Tap x = tap(flip[b] ? d.out_w - 1 - ox : ox, d.out_w, box[0], box[2], d.width);
    const Tap y = tap(oy, d.out_h, box[1], box[3], d.height);
    const uint8_t* frame = frames + (b * d.frames + t) * d.height * d.width * d.channels;
    for (int64_t c = 0; c < d.channels; ++c) {
      out[out_index(d, b, c, t, oy, ox)] = detail::from_acc<scalar_t, float>(
          sample(frame, d.width, d.channels, y, x, c, mean[c], inv_std[c]));
    }
  }
}

}  // namespace

void launch(actionkit::cuda::DType dtype, const uint8_t* frames, const float* boxes,
            const bool* flip, const float* mean, const float* inv_std, void* out, const Dims& d,
            void* stream) {
  const int64_t total = d.batch * d.frames * d.out_h * d.out_w;
  if (total == 0) return;
  actionkit::cuda::dispatch_floating(dtype, "preprocess", [&]<typename scalar_t, typename acc_t>() {
    AK_LAUNCH(preprocess_kernel<scalar_t>, dim3(detail::num_blocks(total)),
              dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream), frames, boxes,
              flip, mean, inv_std, static_cast<scalar_t*>(out), d, total);
  });
  detail::check_launch("preprocess");
}

}  // namespace actionkit::kernels::preprocess::cuda
