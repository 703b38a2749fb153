// Boundary-matching sampling (BMN): schema, argument checks and autograd.
#include "bm_sampling.h"

#include <torch/autograd.h>
#include <torch/library.h>

#include <cmath>

#include "actionkit/ops.h"

namespace actionkit::kernels::bm_sampling {
namespace {

Params make_params(int64_t frames, int64_t num_samples, int64_t per_bin, double ratio) {
  TORCH_CHECK(num_samples >= 1, "bm_sampling: num_samples must be positive, got ", num_samples);
  TORCH_CHECK(per_bin >= 1, "bm_sampling: num_samples_per_bin must be positive, got ", per_bin);
  TORCH_CHECK(num_samples * per_bin >= 2,
              "bm_sampling: num_samples * num_samples_per_bin must be at least 2 (the points "
              "are spread over S*P - 1 gaps), got ",
              num_samples, " * ", per_bin);
  TORCH_CHECK(std::isfinite(ratio), "bm_sampling: prop_boundary_ratio must be finite, got ", ratio);
  return {frames, num_samples, per_bin, ratio};
}

void check_floating(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), op, ": ", arg,
              " must be a floating-point tensor, got dtype ", t.scalar_type());
}

}  // namespace

Params check_sampling(const at::Tensor& x, int64_t num_samples, int64_t per_bin, double ratio) {
  check_floating(x, "bm_sampling", "x");
  TORCH_CHECK(x.dim() == 3, "bm_sampling: x must have shape [N, C, T], got ", x.sizes());
  return make_params(x.size(2), num_samples, per_bin, ratio);
}

Params check_sum(const at::Tensor& y, int64_t per_bin, double ratio) {
  check_floating(y, "bm_sampling_sum", "y");
  TORCH_CHECK(y.dim() == 4, "bm_sampling_sum: y must have shape [N, C, S, T], got ", y.sizes());
  return make_params(y.size(3), y.size(2), per_bin, ratio);
}

Params check_backward(const at::Tensor& grad, int64_t num_samples, int64_t per_bin, double ratio,
                      bool sum) {
  check_floating(grad, "bm_sampling backward", "grad");
  const int64_t dims = sum ? 4 : 5;
  TORCH_CHECK(grad.dim() == dims && grad.size(dims - 1) == grad.size(dims - 2) &&
                  (sum || grad.size(2) == num_samples),
              "bm_sampling backward: grad must have shape ",
              sum ? "[N, C, T, T]" : "[N, C, num_samples, T, T]", ", got ", grad.sizes());
  return make_params(grad.size(dims - 1), num_samples, per_bin, ratio);
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Args {
  int64_t num_samples, per_bin;
  double ratio;

  void save(AutogradContext* ctx) const {
    ctx->saved_data["num_samples"] = num_samples;
    ctx->saved_data["per_bin"] = per_bin;
    ctx->saved_data["ratio"] = ratio;
  }
  static Args load(AutogradContext* ctx) {
    return {ctx->saved_data["num_samples"].toInt(), ctx->saved_data["per_bin"].toInt(),
            ctx->saved_data["ratio"].toDouble()};
  }
};

// Both forms are linear, so the gradient of a backward is its forward: all four
// directions are registered and double backward works.
at::Tensor forward_call(const at::Tensor& input, const Args& a, bool sum) {
  return sum ? actionkit::bm_sampling_sum(input, a.per_bin, a.ratio)
             : actionkit::bm_sampling(input, a.num_samples, a.per_bin, a.ratio);
}

at::Tensor backward_call(const at::Tensor& grad, const Args& a, bool sum) {
  return sum ? detail::bm_sampling_sum_backward(grad, a.num_samples, a.per_bin, a.ratio)
             : detail::bm_sampling_backward(grad, a.num_samples, a.per_bin, a.ratio);
}

template <bool sum>
class BackwardFunction : public torch::autograd::Function<BackwardFunction<sum>> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad, Args a) {
    a.save(ctx);
    at::AutoDispatchBelowADInplaceOrView guard;
    return backward_call(grad, a, sum);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    return {forward_call(grads[0], Args::load(ctx), sum), at::Tensor()};
  }
};

template <bool sum>
class ForwardFunction : public torch::autograd::Function<ForwardFunction<sum>> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, Args a) {
    a.save(ctx);
    at::AutoDispatchBelowADInplaceOrView guard;
    return forward_call(input, a, sum);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    return {BackwardFunction<sum>::apply(grads[0], Args::load(ctx)), at::Tensor()};
  }
};

at::Tensor sampling_autograd(const at::Tensor& x, int64_t num_samples, int64_t per_bin,
                             double ratio) {
  return ForwardFunction<false>::apply(x, Args{num_samples, per_bin, ratio});
}
at::Tensor sum_autograd(const at::Tensor& y, int64_t per_bin, double ratio) {
  return ForwardFunction<true>::apply(y, Args{y.dim() == 4 ? y.size(2) : 0, per_bin, ratio});
}
at::Tensor sampling_backward_autograd(const at::Tensor& grad, int64_t num_samples, int64_t per_bin,
                                      double ratio) {
  return BackwardFunction<false>::apply(grad, Args{num_samples, per_bin, ratio});
}
at::Tensor sum_backward_autograd(const at::Tensor& grad, int64_t num_samples, int64_t per_bin,
                                 double ratio) {
  return BackwardFunction<true>::apply(grad, Args{num_samples, per_bin, ratio});
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def(
      "bm_sampling(Tensor x, int num_samples=32, int num_samples_per_bin=3, "
      "float prop_boundary_ratio=0.5) -> Tensor");
  m.def(
      "_bm_sampling_backward(Tensor grad, int num_samples, int num_samples_per_bin, "
      "float prop_boundary_ratio) -> Tensor");
  m.def(
      "bm_sampling_sum(Tensor y, int num_samples_per_bin=3, float prop_boundary_ratio=0.5) -> "
      "Tensor");
  m.def(
      "_bm_sampling_sum_backward(Tensor grad, int num_samples, int num_samples_per_bin, "
      "float prop_boundary_ratio) -> Tensor");
}

TORCH_LIBRARY_IMPL(actionkit, Autograd, m) {
  m.impl("bm_sampling", &sampling_autograd);
  m.impl("_bm_sampling_backward", &sampling_backward_autograd);
  m.impl("bm_sampling_sum", &sum_autograd);
  m.impl("_bm_sampling_sum_backward", &sum_backward_autograd);
}

}  // namespace actionkit::kernels::bm_sampling
