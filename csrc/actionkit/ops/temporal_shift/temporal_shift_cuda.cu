// CUDA kernel of the temporal shift: a grid-stride loop over the output using
// the shared index math. The shift only moves data, so the kernel is
// instantiated per element size, not per dtype.
#include <cstdint>

#include "../../common/cuda_launch.h"
#include "temporal_shift_cuda.h"
#include "temporal_shift_math.h"

namespace actionkit::kernels::temporal_shift::cuda {
namespace {

template <typename word_t>
__global__ void shift_kernel(const word_t* src, word_t* dst, int64_t total, int64_t frames,
                             int64_t channels, int64_t inner, int64_t fold, bool backward) {
  AK_GRID_STRIDE_LOOP(i, total) {
    const int64_t s = source_index(i, frames, channels, inner, fold, backward);
    dst[i] = s < 0 ? word_t(0) : src[s];
  }
}

template <typename word_t>
void launch_typed(const void* src, void* dst, int64_t total, int64_t frames, int64_t channels,
                  int64_t inner, int64_t fold, bool backward, void* stream) {
  if (total == 0) return;
  AK_LAUNCH(shift_kernel<word_t>, dim3(detail::num_blocks(total)), dim3(detail::kThreadsPerBlock),
            static_cast<cudaStream_t>(stream), static_cast<const word_t*>(src),
            static_cast<word_t*>(dst), total, frames, channels, inner, fold, backward);
  detail::check_launch("temporal_shift");
}

}  // namespace

void launch_shift(const void* src, void* dst, int64_t element_size, int64_t batches, int64_t frames,
                  int64_t channels, int64_t inner, int64_t fold, bool backward, void* stream) {
  const int64_t total = batches * frames * channels * inner;
  switch (element_size) {
    case 2:
      launch_typed<uint16_t>(src, dst, total, frames, channels, inner, fold, backward, stream);
      break;
    case 4:
      launch_typed<uint32_t>(src, dst, total, frames, channels, inner, fold, backward, stream);
      break;
    case 8:
      launch_typed<uint64_t>(src, dst, total, frames, channels, inner, fold, backward, stream);
      break;
    default:
      throw std::invalid_argument("actionkit::temporal_shift: unsupported element size " +
                                  std::to_string(element_size));
  }
}

}  // namespace actionkit::kernels::temporal_shift::cuda
