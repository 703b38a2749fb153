// CUDA kernels of soft-NMS: one thread runs the shared sequential routine on
// device memory. Each step depends on the previous one, and the data stay on
// the GPU (mmcv copies them to the host); a block-parallel argmax and decay is
// the next step for large inputs.
#include <cstdint>

#include "../../common/cuda_launch.h"
#include "soft_nms_cuda.h"
#include "soft_nms_math.h"

namespace actionkit::kernels::soft_nms::cuda {
namespace {

template <typename T>
__global__ void boxes_kernel(T* cols, T* score, T* area, int64_t* inds, T* dets, int64_t n,
                             T threshold, T sigma, T min_score, int64_t method, T offset,
                             int64_t* count) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  *count = soft_nms(cols, cols + n, cols + 2 * n, cols + 3 * n, score, area, inds, dets, n,
                    threshold, sigma, min_score, method, offset);
}

template <typename T>
__global__ void temporal_kernel(T* cols, T* score, int64_t* inds, T* dets, int64_t* keep, int64_t n,
                                T alpha, T low, T high, int64_t limit, int64_t* count) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  *count = temporal_soft_nms(cols, cols + n, score, inds, dets, keep, n, alpha, low, high, limit);
}

template <typename T>
void boxes_typed(void* cols, void* score, void* area, int64_t* inds, void* dets, int64_t n,
                 double threshold, double sigma, double min_score, int64_t method, double offset,
                 int64_t* count, void* stream) {
  AK_LAUNCH(boxes_kernel<T>, dim3(1), dim3(1), static_cast<cudaStream_t>(stream),
            static_cast<T*>(cols), static_cast<T*>(score), static_cast<T*>(area), inds,
            static_cast<T*>(dets), n, static_cast<T>(threshold), static_cast<T>(sigma),
            static_cast<T>(min_score), method, static_cast<T>(offset), count);
  detail::check_launch("soft_nms");
}

template <typename T>
void temporal_typed(void* cols, void* score, int64_t* inds, void* dets, int64_t* keep, int64_t n,
                    double alpha, double low, double high, int64_t limit, int64_t* count,
                    void* stream) {
  AK_LAUNCH(temporal_kernel<T>, dim3(1), dim3(1), static_cast<cudaStream_t>(stream),
            static_cast<T*>(cols), static_cast<T*>(score), inds, static_cast<T*>(dets), keep, n,
            static_cast<T>(alpha), static_cast<T>(low), static_cast<T>(high), limit, count);
  detail::check_launch("temporal_soft_nms");
}

}  // namespace

void launch_boxes(bool is_double, void* cols, void* score, void* area, int64_t* inds, void* dets,
                  int64_t n, double threshold, double sigma, double min_score, int64_t method,
                  double offset, int64_t* count, void* stream) {
  if (is_double) {
    boxes_typed<double>(cols, score, area, inds, dets, n, threshold, sigma, min_score, method,
                        offset, count, stream);
  } else {
    boxes_typed<float>(cols, score, area, inds, dets, n, threshold, sigma, min_score, method,
                       offset, count, stream);
  }
}

void launch_temporal(bool is_double, void* cols, void* score, int64_t* inds, void* dets,
                     int64_t* keep, int64_t n, double alpha, double low, double high, int64_t limit,
                     int64_t* count, void* stream) {
  if (is_double) {
    temporal_typed<double>(cols, score, inds, dets, keep, n, alpha, low, high, limit, count,
                           stream);
  } else {
    temporal_typed<float>(cols, score, inds, dets, keep, n, alpha, low, high, limit, count, stream);
  }
}

}  // namespace actionkit::kernels::soft_nms::cuda
