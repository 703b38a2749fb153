// Temporal interlace shift (TIN): schema, argument checks shared by every
// backend, and the autograd registration (first and second order).
#include "tin_shift.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/floor.h>
#include <ATen/ops/sum.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "actionkit/ops.h"

namespace actionkit::kernels::tin_shift {

Dims check_args(const at::Tensor& x, const at::Tensor& offset, const char* arg) {
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "tin_shift: ", arg,
              " must be a floating-point tensor, got dtype ", x.scalar_type());
  TORCH_CHECK(x.dim() >= 3, "tin_shift: ", arg,
              " must have shape [N, T, C, ...] (e.g. [N, T, C, H*W]), got a tensor of shape ",
              x.sizes());
  TORCH_CHECK(at::isFloatingType(offset.scalar_type()),
              "tin_shift: offset must be a floating-point tensor, got dtype ",
              offset.scalar_type());
  TORCH_CHECK(offset.dim() == 2 && offset.size(0) == x.size(0) && offset.size(1) > 0,
              "tin_shift: offset must have shape [N, G] with N = ", x.size(0), " (", arg,
              "'s first dimension) and G >= 1 groups, got ", offset.sizes());
  TORCH_CHECK(x.size(2) % offset.size(1) == 0, "tin_shift: the ", x.size(2), " channels of ", arg,
              " (dimension 2) do not split into ", offset.size(1),
              " equal groups (offset's second dimension)");
  TORCH_CHECK(offset.device() == x.device(), "tin_shift: offset is on ", offset.device(), " but ",
              arg, " is on ", x.device());
  Dims d{};
  d.batches = x.size(0);
  d.frames = x.size(1);
  d.channels = x.size(2);
  d.inner = 1;
  for (int64_t i = 3; i < x.dim(); ++i) d.inner *= x.size(i);
  d.groups = offset.size(1);
  return d;
}

at::Tensor kernel_offsets(const at::Tensor& offset, const at::Tensor& x) {
  return offset.to(x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat).contiguous();
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y viewed [N, T, G, C/G, rest] and summed per (n, g): [N, G].
at::Tensor group_sum(const at::Tensor& y, int64_t groups) {
  return y.reshape({y.size(0), y.size(1), groups, y.size(2) / groups, -1}).sum({1, 3, 4});
}

// y [N, T, C, ...] with each channel group g of sample n multiplied by w[n, g].
at::Tensor scale_groups(const at::Tensor& y, const at::Tensor& w) {
  const int64_t groups = w.size(1);
  const at::Tensor v = y.reshape({y.size(0), y.size(1), groups, y.size(2) / groups, -1});
  return (v * w.to(y.scalar_type()).reshape({w.size(0), 1, groups, 1, 1})).reshape(y.sizes());
}

// d shift(y, o) / d o at o = `offset` (its floor): shift(y, k + 1) - shift(y, k).
at::Tensor slope(const at::Tensor& y, const at::Tensor& offset) {
  const at::Tensor k = at::floor(offset.detach());
  return actionkit::tin_shift(y, k + 1) - actionkit::tin_shift(y, k);
}

// The adjoint of y -> slope(y, offset): shift(h, -(k + 1)) - shift(h, -k).
at::Tensor slope_adjoint(const at::Tensor& h, const at::Tensor& offset) {
  const at::Tensor k = at::floor(offset.detach());
  return actionkit::tin_shift(h, -(k + 1)) - actionkit::tin_shift(h, -k);
}

// The backward as a function of (grad, x, offset), so that it is differentiable
// itself: its gradients are written with the (differentiable) forward op.
class ShiftBackwardFunction : public torch::autograd::Function<ShiftBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& x,
                               const at::Tensor& offset) {
    ctx->save_for_backward({grad, x, offset});
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [grad_x, grad_offset] = detail::tin_shift_backward(grad, x, offset);
    return {grad_x, grad_offset};
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &grad = saved[0], &x = saved[1], &offset = saved[2];
    const at::Tensor &ggx = grads[0], &ggo = grads[1];
    at::Tensor d_grad, d_x, d_offset;
    if (ggx.defined()) {
      // grad_x = shift(grad, -offset): linear in grad; in offset, the slope at -offset
      d_grad = actionkit::tin_shift(ggx, offset);
      d_offset = -group_sum(ggx * slope(grad, -offset), offset.size(1)).to(offset.scalar_type());
    }
    if (ggo.defined()) {
      // grad_offset = sum per group of grad * slope(x, offset): bilinear in (grad, x);
      // the slope is piecewise constant in offset
      const at::Tensor term = scale_groups(slope(x, offset), ggo);
      d_grad = d_grad.defined() ? d_grad + term : term;
      d_x = slope_adjoint(scale_groups(grad, ggo), offset).to(x.scalar_type());
    }
    return {d_grad, d_x, d_offset};
  }
};

class ShiftFunction : public torch::autograd::Function<ShiftFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& offset) {
    ctx->save_for_backward({x, offset});
    at::AutoDispatchBelowADInplaceOrView guard;
    return actionkit::tin_shift(x, offset);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    const auto saved = ctx->get_saved_variables();
    return ShiftBackwardFunction::apply(grads[0], saved[0], saved[1]);
  }
};

at::Tensor forward_autograd(const at::Tensor& x, const at::Tensor& offset) {
  return ShiftFunction::apply(x, offset);
}

std::tuple<at::Tensor, at::Tensor> backward_autograd(const at::Tensor& grad, const at::Tensor& x,
                                                     const at::Tensor& offset) {
  auto out = ShiftBackwardFunction::apply(grad, x, offset);
  return {out[0], out[1]};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def("tin_shift(Tensor x, Tensor offset) -> Tensor");
  m.def("_tin_shift_backward(Tensor grad, Tensor x, Tensor offset) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(actionkit, Autograd, m) {
  m.impl("tin_shift", &forward_autograd);
  m.impl("_tin_shift_backward", &backward_autograd);
}

}  // namespace actionkit::kernels::tin_shift
