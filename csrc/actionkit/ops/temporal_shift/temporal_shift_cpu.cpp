// CPU kernel of the temporal shift: each (n, t, c) row of `inner` elements is
// copied from its source row (or zeroed), in parallel over rows.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <cstddef>

#include "../../common/cpu_alloc.h"
#include "../../common/cpu_clones.h"
#include "temporal_shift.h"
#include "temporal_shift_math.h"

namespace actionkit::kernels::temporal_shift {
namespace {

// Row copy and zero fill with plain vector stores. glibc's memcpy/memset pick
// `rep movsb/stosb` at these row sizes, which ran 15-20% slower here than
// vector stores when the output is fresh memory whose pages fault on first
// touch (every large tensor under glibc's default allocator); the op then
// costs what x.clone() costs. Fixed-size 32-byte copies are inlined as vector
// moves (AVX2 in the x86-64-v3 clone).
AK_CPU_CLONES void copy_bytes(char* dst, const char* src, std::size_t n) {
  std::size_t k = 0;
  for (; k + 32 <= n; k += 32) __builtin_memcpy(dst + k, src + k, 32);
  for (; k < n; ++k) dst[k] = src[k];
}

AK_CPU_CLONES void zero_bytes(char* dst, std::size_t n) {
  std::size_t k = 0;
  for (; k + 32 <= n; k += 32) __builtin_memset(dst + k, 0, 32);
  for (; k < n; ++k) dst[k] = 0;
}

at::Tensor shift_cpu(const at::Tensor& x_in, int64_t num_segments, int64_t shift_div,
                     bool backward) {
  const Dims d = check_args(x_in, num_segments, shift_div, backward ? "grad" : "x");
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = empty_output(x.sizes(), x.options());
  const int64_t rows = d.batches * d.frames * d.channels;
  const int64_t row_bytes = d.inner * x.element_size();
  const char* src = static_cast<const char*>(x.const_data_ptr());
  char* dst = static_cast<char*>(out.mutable_data_ptr());
  // Aim for chunks of about 64 KiB so small rows do not drown in scheduling.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(row_bytes, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t c = row % d.channels;
      const int64_t nt = row / d.channels;
      const int64_t t = nt % d.frames;
      const int64_t s = source_frame(t, c, d.frames, d.fold, backward);
      char* out_row = dst + row * row_bytes;
      if (s < 0) {
        zero_bytes(out_row, row_bytes);
      } else {
        copy_bytes(out_row, src + ((nt - t + s) * d.channels + c) * row_bytes, row_bytes);
      }
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("temporal_shift", &forward_op<&shift_cpu>);
  m.impl("_temporal_shift_backward", &backward_op<&shift_cpu>);
}

}  // namespace actionkit::kernels::temporal_shift
