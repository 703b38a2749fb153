// Declarations shared by the TIN shift's schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

#include "tin_shift_math.h"

namespace actionkit::kernels::tin_shift {

// Checks x (or the gradient, with `arg` naming it) against offset [N, G].
Dims check_args(const at::Tensor& x, const at::Tensor& offset, const char* arg);

// The offsets in the accumulation type of x's dtype (float, or double for
// double x), contiguous: what the kernels read.
at::Tensor kernel_offsets(const at::Tensor& offset, const at::Tensor& x);

// A backend's kernels. shift: x shifted by sign * offset (sign -1: the
// adjoint). offset_grad: [N, G] in the accumulation type.
struct Backend {
  at::Tensor (*shift)(const at::Tensor& x, const at::Tensor& offsets, const Dims& d, double sign);
  at::Tensor (*offset_grad)(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& offsets,
                            const Dims& d);
};

// The registered kernels of a backend, e.g. m.impl("tin_shift", &forward_op<kMyBackend>).
template <const Backend& b>
at::Tensor forward_op(const at::Tensor& x, const at::Tensor& offset) {
  const Dims d = check_args(x, offset, "x");
  return b.shift(x.contiguous(), kernel_offsets(offset, x), d, 1.0);
}

template <const Backend& b>
std::tuple<at::Tensor, at::Tensor> backward_op(const at::Tensor& grad, const at::Tensor& x,
                                               const at::Tensor& offset) {
  const Dims d = check_args(grad, offset, "grad");
  TORCH_CHECK(x.sizes() == grad.sizes(), "tin_shift backward: x has shape ", x.sizes(),
              " but grad has shape ", grad.sizes());
  const at::Tensor offsets = kernel_offsets(offset, grad);
  const at::Tensor g = grad.contiguous();
  at::Tensor grad_x = b.shift(g, offsets, d, -1.0);
  at::Tensor grad_offset = b.offset_grad(g, x.to(g.scalar_type()).contiguous(), offsets, d);
  return {grad_x, grad_offset.to(offset.scalar_type())};
}

}  // namespace actionkit::kernels::tin_shift
