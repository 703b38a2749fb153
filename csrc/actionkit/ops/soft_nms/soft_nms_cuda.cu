// CUDA kernels of soft-NMS: one thread block of kThreads runs each step's
// decay and argmax spread over its threads (the argmax by warp shuffles, then
// across warps through shared memory); the swap and the removals, which move a
// few elements in an order that decides ties, stay with thread 0. Every value
// comes from the shared per-element math (soft_nms_math.h) and the argmax
// picks the first maximum of the same arrangement, so the results equal the
// CPU kernel's to the last bit (for finite scores), whatever the schedule.
// Launch: one block per call, the data stay on the device.
#include <cstdint>

#include "../../common/cuda_launch.h"
#include "soft_nms_cuda.h"
#include "soft_nms_math.h"

namespace actionkit::kernels::soft_nms::cuda {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kFull = 0xffffffffu;

// Keeps (score, index) of the first maximum: the later one only if greater, or
// equal with a smaller index (an index < 0 is nothing).
template <typename T>
__device__ __forceinline__ void keep_first_max(T& score, int64_t& index, T other_score,
                                               int64_t other_index) {
  if (other_index >= 0 &&
      (index < 0 || score < other_score || (score == other_score && other_index < index))) {
    score = other_score, index = other_index;
  }
}

// The index of the first maximum of score[k] over k in [begin, end) with
// taken(k) false (-1 if none), for every thread of the block.
template <typename T, typename Skip>
__device__ int64_t block_argmax(const T* score, int64_t begin, int64_t end, Skip skip) {
  AK_SHARED(T, warp_score, kThreads / 32);
  AK_SHARED(int64_t, warp_index, kThreads / 32);
  AK_SHARED(int64_t, result, 1);
  T best = T(0);
  int64_t index = -1;
  for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
    if (!skip(k)) keep_first_max(best, index, score[k], k);
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const T other = __shfl_down_sync(kFull, best, offset);
    const int64_t other_index = __shfl_down_sync(kFull, index, offset);
    keep_first_max(best, index, other, other_index);
  }
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_score[warp] = best, warp_index[warp] = index;
  __syncthreads();
  if (warp == 0) {
    best = T(0), index = -1;
    if (lane < kThreads / 32) best = warp_score[lane], index = warp_index[lane];
    for (int offset = 16; offset > 0; offset /= 2) {
      const T other = __shfl_down_sync(kFull, best, offset);
      const int64_t other_index = __shfl_down_sync(kFull, index, offset);
      keep_first_max(best, index, other, other_index);
    }
    if (lane == 0) result[0] = index;
  }
  __syncthreads();
  const int64_t found = result[0];
  __syncthreads();  // (result is written again by the next call)
  return found;
}

template <typename T>
__global__ void boxes_kernel(T* cols, T* score, T* area, int64_t* inds, T* dets, int64_t n,
                             T threshold, T sigma, T min_score, int64_t method, T offset,
                             int64_t* count) {
  AK_SHARED(int64_t, kept, 1);
  T *x1 = cols, *y1 = cols + n, *x2 = cols + 2 * n, *y2 = cols + 3 * n;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    area[k] = box_area(x1[k], y1[k], x2[k], y2[k], offset);
  }
  if (threadIdx.x == 0) kept[0] = n;
  __syncthreads();
  auto none = [](int64_t) { return false; };
  int64_t best = block_argmax(score, 0, n, none);
  for (int64_t i = 0; i < kept[0]; ++i) {
    if (threadIdx.x == 0) take_box(x1, y1, x2, y2, score, area, inds, dets, i, best);
    __syncthreads();
    const int64_t live = kept[0];
    const T bx1 = x1[i], by1 = y1[i], bx2 = x2[i], by2 = y2[i], barea = area[i];
    for (int64_t k = i + 1 + threadIdx.x; k < live; k += blockDim.x) {
      score[k] *= box_weight(x1[k], y1[k], x2[k], y2[k], area[k], bx1, by1, bx2, by2, barea,
                             threshold, sigma, method, offset);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      kept[0] = remove_low(x1, y1, x2, y2, score, area, inds, i + 1, live, min_score);
    }
    __syncthreads();
    best = block_argmax(score, i + 1, kept[0], none);
  }
  if (threadIdx.x == 0) *count = kept[0];
}

template <typename T>
__global__ void temporal_kernel(T* cols, T* score, int64_t* inds, T* dets, int64_t* keep, int64_t n,
                                T alpha, T low, T high, int64_t limit, int64_t* count) {
  // A proposal taken is marked inds[k] = -1 instead of being removed: the others
  // keep their order, which is all the first-maximum rule looks at.
  const T* start = cols;
  const T* end = cols + n;
  auto taken_before = [inds](int64_t k) { return inds[k] < 0; };
  int64_t taken = 0;
  for (; taken < limit; ++taken) {
    const int64_t best = block_argmax(score, 0, n, taken_before);
    if (best < 0) break;
    const T bstart = start[best], bend = end[best];
    const T bar = low + (high - low) * (bend - bstart);
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      if (k == best || inds[k] < 0) continue;
      bool decayed;
      const T weight = segment_weight(start[k], end[k], bstart, bend, bar, alpha, decayed);
      if (decayed) score[k] *= weight;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      dets[taken * 3 + 0] = bstart, dets[taken * 3 + 1] = bend;
      dets[taken * 3 + 2] = score[best];
      keep[taken] = inds[best];
      inds[best] = -1;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) *count = taken;
}

template <typename T>
void boxes_typed(void* cols, void* score, void* area, int64_t* inds, void* dets, int64_t n,
                 double threshold, double sigma, double min_score, int64_t method, double offset,
                 int64_t* count, void* stream) {
  AK_LAUNCH_BLOCKS(boxes_kernel<T>, dim3(1), dim3(kThreads), static_cast<cudaStream_t>(stream),
                   static_cast<T*>(cols), static_cast<T*>(score), static_cast<T*>(area), inds,
                   static_cast<T*>(dets), n, static_cast<T>(threshold), static_cast<T>(sigma),
                   static_cast<T>(min_score), method, static_cast<T>(offset), count);
  detail::check_launch("soft_nms");
}

template <typename T>
void temporal_typed(void* cols, void* score, int64_t* inds, void* dets, int64_t* keep, int64_t n,
                    double alpha, double low, double high, int64_t limit, int64_t* count,
                    void* stream) {
  AK_LAUNCH_BLOCKS(temporal_kernel<T>, dim3(1), dim3(kThreads), static_cast<cudaStream_t>(stream),
                   static_cast<T*>(cols), static_cast<T*>(score), inds, static_cast<T*>(dets), keep,
                   n, static_cast<T>(alpha), static_cast<T>(low), static_cast<T>(high), limit,
                   count);
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
