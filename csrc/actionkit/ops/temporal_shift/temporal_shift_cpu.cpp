// CPU kernel of the temporal shift: each (n, t, c) row of `inner` elements is
// one memcpy from its source row (or a memset), in parallel over rows.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <cstring>

#include "temporal_shift.h"
#include "temporal_shift_math.h"

namespace actionkit::kernels::temporal_shift {
namespace {

at::Tensor shift_cpu(const at::Tensor& x_in, int64_t num_segments, int64_t shift_div,
                     bool backward) {
  const Dims d = check_args(x_in, num_segments, shift_div, backward ? "grad" : "x");
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
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
        std::memset(out_row, 0, row_bytes);
      } else {
        std::memcpy(out_row, src + ((nt - t + s) * d.channels + c) * row_bytes, row_bytes);
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
