// CUDA kernels of the suppression bitmask and of the temporal IoU. The mask is
// torchvision's algorithm: block (c, r) of 64 threads loads the 64 boxes of
// column tile c into shared memory once, then thread t computes the word of
// row r * 64 + t against them (tiles left of the diagonal are all zeros); the
// per-pair math is nms_math.h's, so the words equal the CPU kernel's.
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

constexpr int kTile = 64;  // boxes per tile: one 64-bit word

template <typename T>
__global__ void mask_tiles_kernel(const T* sorted, int64_t count, int64_t dims, T threshold,
                                  uint64_t* bits) {
  AK_SHARED(T, tile, kTile * 4);
  const int64_t words = (count + kTile - 1) / kTile;
  const int64_t col = blockIdx.x, row = blockIdx.y;
  const int64_t width = 2 * dims;
  const int64_t i = row * kTile + threadIdx.x;
  if (col < row) {  // every later box is in a later tile: nothing to suppress
    if (i < count) bits[i * words + col] = 0;
    return;
  }
  const int64_t cols = count - col * kTile < kTile ? count - col * kTile : kTile;
  if (threadIdx.x < cols) {
    for (int64_t c = 0; c < width; ++c) {
      tile[threadIdx.x * width + c] = sorted[(col * kTile + threadIdx.x) * width + c];
    }
  }
  __syncthreads();
  if (i >= count) return;
  const T* a = sorted + i * width;
  uint64_t word = 0;
  for (int64_t b = 0; b < cols; ++b) {
    if (col * kTile + b <= i) continue;
    T other[4];
    for (int64_t c = 0; c < width; ++c) other[c] = tile[b * width + c];
    const T overlap = dims == 2 ? box_iou(a, other) : segment_iou(a, other);
    if (overlap > threshold) word |= uint64_t(1) << b;
  }
  bits[i * words + col] = word;
}

template <typename T>
__global__ void temporal_iou_kernel(const T* a, const T* b, int64_t k, int64_t m, T* out) {
  AK_GRID_STRIDE_LOOP(i, k * m) { out[i] = segment_iou(a + (i / m) * 2, b + (i % m) * 2); }
}

template <typename T>
void mask_typed(const void* sorted, int64_t count, int64_t dims, double threshold, void* bits,
                void* stream) {
  const int64_t words = (count + 63) / 64;
  if (words == 0) return;
  if (words <= 65535) {  // the grid's y limit: up to 4,194,240 boxes in tiles
    AK_LAUNCH_BLOCKS(mask_tiles_kernel<T>, dim3(words, words), dim3(kTile),
                     static_cast<cudaStream_t>(stream), static_cast<const T*>(sorted), count, dims,
                     static_cast<T>(threshold), static_cast<uint64_t*>(bits));
  } else {
    const int64_t total = count * words;
    AK_LAUNCH(mask_kernel<T>, dim3(detail::num_blocks(total)), dim3(detail::kThreadsPerBlock),
              static_cast<cudaStream_t>(stream), static_cast<const T*>(sorted), count, dims,
              static_cast<T>(threshold), static_cast<uint64_t*>(bits));
  }
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
