// Graph aggregation (ST-GCN/AGCN): schema, argument checks, kernels and autograd.
//
// Each (sample n, subset k) slice of x is a contiguous [C*T, V] matrix, so
// out[n] = sum_k x[n, k] @ A[k] is one batched matrix product per subset that
// BLAS (or cuBLAS) runs at full speed on strided views of x: one pass over x,
// no permuted copy (einsum copies x to [N, C, T, K, V] first). The same holds
// for both gradients. The kernels are device-generic, registered for CPU and CUDA.
#include <ATen/ops/baddbmm.h>
#include <ATen/ops/bmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "actionkit/ops.h"

namespace actionkit::kernels::graph_aggregate {
namespace {

void check_graph(const at::Tensor& a, const at::Tensor& like, const char* like_name,
                 int64_t batches, int64_t subsets, int64_t joints) {
  TORCH_CHECK(a.scalar_type() == like.scalar_type(), "graph_aggregate: A has dtype ",
              a.scalar_type(), " but ", like_name, " has ", like.scalar_type(),
              "; they must match");
  TORCH_CHECK(a.device() == like.device(), "graph_aggregate: A is on ", a.device(), " but ",
              like_name, " is on ", like.device(), "; both must be on the same device");
  const bool shape_ok =
      (a.dim() == 3 && a.size(0) == subsets && a.size(1) == joints && a.size(2) == joints) ||
      (a.dim() == 4 && a.size(0) == batches && a.size(1) == subsets && a.size(2) == joints &&
       a.size(3) == joints);
  TORCH_CHECK(shape_ok, "graph_aggregate: A must have shape [K, V, V] = [", subsets, ", ", joints,
              ", ", joints, "] or [N, K, V, V] = [", batches, ", ", subsets, ", ", joints, ", ",
              joints, "], got ", a.sizes());
}

void check_x(const at::Tensor& x, const char* op) {
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), op,
              ": x must be a floating-point tensor, got dtype ", x.scalar_type());
  TORCH_CHECK(x.dim() == 5, op, ": x must have shape [N, K, C, T, V], got ", x.sizes());
}

void check_grad(const at::Tensor& grad) {
  TORCH_CHECK(at::isFloatingType(grad.scalar_type()) && grad.dim() == 4,
              "graph_aggregate backward: grad must be a floating-point [N, C, T, V] tensor, got ",
              grad.scalar_type(), " of shape ", grad.sizes());
}

// The graphs of subset k for every sample: [N, V, V] (a stride-0 view of a shared graph).
at::Tensor graphs(const at::Tensor& a, int64_t k, int64_t batches) {
  if (a.dim() == 4) return a.select(1, k);
  return a.select(0, k).unsqueeze(0).expand({batches, a.size(1), a.size(2)});
}

// Batched matrix products over the samples, one per subset k, on strided views.
at::Tensor forward_kernel(const at::Tensor& x_in, const at::Tensor& a_in) {
  check_x(x_in, "graph_aggregate");
  const int64_t n = x_in.size(0), subsets = x_in.size(1), joints = x_in.size(4);
  check_graph(a_in, x_in, "x", n, subsets, joints);
  const at::Tensor x = x_in.contiguous().view({n, subsets, -1, joints});
  at::Tensor out = at::zeros({n, x_in.size(2), x_in.size(3), joints}, x.options());
  at::Tensor out3 = out.view({n, -1, joints});
  for (int64_t k = 0; k < subsets; ++k) out3.baddbmm_(x.select(1, k), graphs(a_in, k, n));
  return out;
}

// d out / d x[n, k] = grad[n] @ A[k]^T
at::Tensor backward_x_kernel(const at::Tensor& grad_in, const at::Tensor& a_in) {
  check_grad(grad_in);
  TORCH_CHECK(a_in.dim() == 3 || a_in.dim() == 4,
              "graph_aggregate backward: A must have shape [K, V, V] or [N, K, V, V], got ",
              a_in.sizes());
  const int64_t n = grad_in.size(0), joints = grad_in.size(3), subsets = a_in.size(-3);
  check_graph(a_in, grad_in, "grad", n, subsets, joints);
  const at::Tensor grad = grad_in.contiguous().view({n, -1, joints});
  at::Tensor gx = at::empty({n, subsets, grad_in.size(1), grad_in.size(2), joints}, grad.options());
  const at::Tensor gx4 = gx.view({n, subsets, -1, joints});
  for (int64_t k = 0; k < subsets; ++k) {
    at::Tensor dst = gx4.select(1, k);
    at::bmm_out(dst, grad, graphs(a_in, k, n).transpose(1, 2));
  }
  return gx;
}

// d out / d A[(n,) k] = x[n, k]^T @ grad[n], summed over n for a shared graph.
at::Tensor backward_a_kernel(const at::Tensor& grad_in, const at::Tensor& x_in, bool per_sample) {
  check_grad(grad_in);
  check_x(x_in, "graph_aggregate backward");
  const int64_t n = x_in.size(0), subsets = x_in.size(1), joints = x_in.size(4);
  TORCH_CHECK(grad_in.size(0) == n && grad_in.size(1) == x_in.size(2) &&
                  grad_in.size(2) == x_in.size(3) && grad_in.size(3) == joints,
              "graph_aggregate backward: grad must have shape [N, C, T, V] matching x ",
              x_in.sizes(), ", got ", grad_in.sizes());
  TORCH_CHECK(grad_in.scalar_type() == x_in.scalar_type() && grad_in.device() == x_in.device(),
              "graph_aggregate backward: grad and x must have the same dtype and device");
  const at::Tensor x = x_in.contiguous().view({n, subsets, -1, joints});
  const at::Tensor grad = grad_in.contiguous().view({n, -1, joints});
  at::Tensor ga = per_sample ? at::empty({n, subsets, joints, joints}, x.options())
                             : at::empty({subsets, joints, joints}, x.options());
  for (int64_t k = 0; k < subsets; ++k) {
    const at::Tensor per_n = at::bmm(x.select(1, k).transpose(1, 2), grad);  // [N, V, V]
    if (per_sample) {
      ga.select(1, k).copy_(per_n);
    } else {
      ga.select(0, k).copy_(per_n.sum(0));
    }
  }
  return ga;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class GraphAggregateFunction : public torch::autograd::Function<GraphAggregateFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& a) {
    ctx->save_for_backward({x, a});
    at::AutoDispatchBelowADInplaceOrView guard;
    return actionkit::graph_aggregate(x, a);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &a = saved[1];
    variable_list out(2);
    if (ctx->needs_input_grad(0)) out[0] = detail::graph_aggregate_backward_x(grads[0], a);
    if (ctx->needs_input_grad(1)) {
      out[1] = detail::graph_aggregate_backward_a(grads[0], x, a.dim() == 4);
    }
    return out;
  }
};

at::Tensor forward_autograd(const at::Tensor& x, const at::Tensor& a) {
  return GraphAggregateFunction::apply(x, a);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def("graph_aggregate(Tensor x, Tensor A) -> Tensor");
  m.def("_graph_aggregate_backward_x(Tensor grad, Tensor A) -> Tensor");
  m.def("_graph_aggregate_backward_a(Tensor grad, Tensor x, bool per_sample) -> Tensor");
}

TORCH_LIBRARY_IMPL(actionkit, Autograd, m) { m.impl("graph_aggregate", &forward_autograd); }

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("graph_aggregate", &forward_kernel);
  m.impl("_graph_aggregate_backward_x", &backward_x_kernel);
  m.impl("_graph_aggregate_backward_a", &backward_a_kernel);
}

#ifdef ACTIONKIT_WITH_CUDA
TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("graph_aggregate", &forward_kernel);
  m.impl("_graph_aggregate_backward_x", &backward_x_kernel);
  m.impl("_graph_aggregate_backward_a", &backward_a_kernel);
}
#endif

}  // namespace actionkit::kernels::graph_aggregate
