// CUDA kernels of the suppression bitmask (one 64-bit word per thread, as in
// torchvision's NMS but without shared memory) and of the temporal IoU.
#include <cstdint>

#include "../../common/cuda_launch.h"
#include "nms_cuda.h"
#include "nms_math.h"

namespace actionkit::kernels::nms::cuda {
namespace {

template <typename T>
__global__ void mask_kernel(const T* sorted, int64_t count, int64_t dims, T threshold,
                            uint64_t* bits) {
  const int64_t words = (count + 63) / 64;
  AK_GRID_STRIDE_LOOP(i, count * words) {
    bits[i] = suppression_word(sorted, count, dims, i / words, i % words, threshold);
  }
}

template <typename T>
__global__ void temporal_iou_kernel(const T* a, const T* b, int64_t k, int64_t m, T* out) {
  AK_GRID_STRIDE_LOOP(i, k * m) { out[i] = segment_iou(a + (i / m) * 2, b + (i % m) * 2); }
}

template <typename T>
void mask_typed(const void* sorted, int64_t count, int64_t dims, double threshold, void* bits,
                void* stream) {
  const int64_t total = count * ((count + 63) / 64);
  if (total == 0) return;
  AK_LAUNCH(mask_kernel<T>, dim3(detail::num_blocks(total)), dim3(detail::kThreadsPerBlock),
            static_cast<cudaStream_t>(stream), static_cast<const T*>(sorted), count, dims,
            static_cast<T>(threshold), static_cast<uint64_t*>(bits));
  detail::check_launch("nms mask");
}

template <typename T>
void iou_typed(const void* a, const void* b, int64_t k, int64_t m, void* out, void* stream) {
  if (k * m == 0) return;
  AK_LAUNCH(temporal_iou_kernel<T>, dim3(detail::num_blocks(k * m)), dim3(detail::kThreadsPerBlock),
            static_cast<cudaStream_t>(stream), static_cast<const T*>(a), static_cast<const T*>(b),
            k, m, static_cast<T*>(out));
  detail::check_launch("temporal_iou");
}

}  // namespace

void launch_mask(bool is_double, const void* sorted, int64_t count, int64_t dims, double threshold,
                 void* bits, void* stream) {
  if (is_double) {
    mask_typed<double>(sorted, count, dims, threshold, bits, stream);
  } else {
    mask_typed<float>(sorted, count, dims, threshold, bits, stream);
  }
}

void launch_temporal_iou(bool is_double, const void* a, const void* b, int64_t k, int64_t m,
                         void* out, void* stream) {
  if (is_double) {
    iou_typed<double>(a, b, k, m, out, stream);
  } else {
    iou_typed<float>(a, b, k, m, out, stream);
  }
}

}  // namespace actionkit::kernels::nms::cuda
