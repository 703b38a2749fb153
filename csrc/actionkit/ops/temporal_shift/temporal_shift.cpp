// Temporal shift (TSM): schema, argument checks shared by every backend, and
// the autograd registration.
#include "temporal_shift.h"

#include <torch/autograd.h>
#include <torch/library.h>

#include "actionkit/ops.h"

namespace actionkit::kernels::temporal_shift {

Dims check_args(const at::Tensor& x, int64_t num_segments, int64_t shift_div, const char* arg) {
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "temporal_shift: ", arg,
              " must be a floating-point tensor, got dtype ", x.scalar_type());
  TORCH_CHECK(x.dim() == 4 || x.dim() == 5, "temporal_shift: ", arg,
              " must have shape [N*T, C, H, W] or [N, T, C, H, W], got a tensor of shape ",
              x.sizes());
  TORCH_CHECK(num_segments > 0, "temporal_shift: num_segments must be positive, got ",
              num_segments);
  TORCH_CHECK(shift_div > 0, "temporal_shift: shift_div must be positive, got ", shift_div);
  Dims d{};
  if (x.dim() == 4) {
    TORCH_CHECK(x.size(0) % num_segments == 0, "temporal_shift: the first dimension of ", arg,
                " (N*T = ", x.size(0), ") is not divisible by num_segments (", num_segments, ")");
    d.frames = num_segments;
    d.batches = x.size(0) / num_segments;
    d.channels = x.size(1);
    d.inner = x.size(2) * x.size(3);
  } else {
    TORCH_CHECK(x.size(1) == num_segments, "temporal_shift: for a 5-d ", arg,
                " [N, T, C, H, W], num_segments must equal T = ", x.size(1), ", got ",
                num_segments);
    d.batches = x.size(0);
    d.frames = x.size(1);
    d.channels = x.size(2);
    d.inner = x.size(3) * x.size(4);
  }
  d.fold = d.channels / shift_div;
  return d;
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The shift is linear, so the gradient of its backward is the forward shift:
// registering both makes double backward (gradgradcheck) work too.
class ShiftBackwardFunction : public torch::autograd::Function<ShiftBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad, int64_t num_segments,
                            int64_t shift_div) {
    ctx->saved_data["num_segments"] = num_segments;
    ctx->saved_data["shift_div"] = shift_div;
    at::AutoDispatchBelowADInplaceOrView guard;
    return detail::temporal_shift_backward(grad, num_segments, shift_div);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    return {actionkit::temporal_shift(grads[0], ctx->saved_data["num_segments"].toInt(),
                                      ctx->saved_data["shift_div"].toInt()),
            at::Tensor(), at::Tensor()};
  }
};

class ShiftFunction : public torch::autograd::Function<ShiftFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t num_segments,
                            int64_t shift_div) {
    ctx->saved_data["num_segments"] = num_segments;
    ctx->saved_data["shift_div"] = shift_div;
    at::AutoDispatchBelowADInplaceOrView guard;
    return actionkit::temporal_shift(x, num_segments, shift_div);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    return {ShiftBackwardFunction::apply(grads[0], ctx->saved_data["num_segments"].toInt(),
                                         ctx->saved_data["shift_div"].toInt()),
            at::Tensor(), at::Tensor()};
  }
};

at::Tensor forward_autograd(const at::Tensor& x, int64_t num_segments, int64_t shift_div) {
  return ShiftFunction::apply(x, num_segments, shift_div);
}

at::Tensor backward_autograd(const at::Tensor& grad, int64_t num_segments, int64_t shift_div) {
  return ShiftBackwardFunction::apply(grad, num_segments, shift_div);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def("temporal_shift(Tensor x, int num_segments, int shift_div=8) -> Tensor");
  m.def("_temporal_shift_backward(Tensor grad, int num_segments, int shift_div) -> Tensor");
}

TORCH_LIBRARY_IMPL(actionkit, Autograd, m) {
  m.impl("temporal_shift", &forward_autograd);
  m.impl("_temporal_shift_backward", &backward_autograd);
}

}  // namespace actionkit::kernels::temporal_shift
