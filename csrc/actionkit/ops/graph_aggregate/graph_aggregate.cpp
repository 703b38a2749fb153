// Graph aggregation (ST-GCN/AGCN): schema, argument checks, the gradient of A
// (a GEMM over all rows, left to BLAS through strided views of x), and autograd.
#include "graph_aggregate.h"

#include <ATen/ops/bmm.h>
#include <ATen/ops/stack.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "actionkit/ops.h"

namespace actionkit::kernels::graph_aggregate {
namespace {

void check_graph(const at::Tensor& a, const at::Tensor& like, int64_t batches, int64_t subsets,
                 int64_t joints) {
  TORCH_CHECK(a.scalar_type() == like.scalar_type(), "graph_aggregate: A has dtype ",
              a.scalar_type(), " but x has ", like.scalar_type(), "; they must match");
  TORCH_CHECK(a.device() == like.device(), "graph_aggregate: A is on ", a.device(), " but x is on ",
              like.device(), "; both must be on the same device");
  const bool shape_ok =
      (a.dim() == 3 && a.size(0) == subsets && a.size(1) == joints && a.size(2) == joints) ||
      (a.dim() == 4 && a.size(0) == batches && a.size(1) == subsets && a.size(2) == joints &&
       a.size(3) == joints);
  TORCH_CHECK(shape_ok, "graph_aggregate: A must have shape [K, V, V] = [", subsets, ", ", joints,
              ", ", joints, "] or [N, K, V, V] = [", batches, ", ", subsets, ", ", joints, ", ",
              joints, "], got ", a.sizes());
}

}  // namespace

Dims check_args(const at::Tensor& x, const at::Tensor& a) {
  TORCH_CHECK(at::isFloatingType(x.scalar_type()),
              "graph_aggregate: x must be a floating-point tensor, got dtype ", x.scalar_type());
  TORCH_CHECK(x.dim() == 5, "graph_aggregate: x must have shape [N, K, C, T, V], got ", x.sizes());
  check_graph(a, x, x.size(0), x.size(1), x.size(4));
  return {x.size(0), x.size(1), x.size(2) * x.size(3), x.size(4), a.dim() == 4};
}

Dims check_grad(const at::Tensor& grad, const at::Tensor& a) {
  TORCH_CHECK(at::isFloatingType(grad.scalar_type()) && grad.dim() == 4,
              "graph_aggregate backward: grad must be a floating-point [N, C, T, V] tensor, got ",
              grad.scalar_type(), " of shape ", grad.sizes());
  TORCH_CHECK(a.dim() == 3 || a.dim() == 4,
              "graph_aggregate backward: A must have shape [K, V, V] or [N, K, V, V], got ",
              a.sizes());
  const int64_t subsets = a.size(a.dim() - 3);
  check_graph(a, grad, grad.size(0), subsets, grad.size(3));
  return {grad.size(0), subsets, grad.size(1) * grad.size(2), grad.size(3), a.dim() == 4};
}

namespace {

// dA[(n,) k] = sum over the rows of x[n, k]^T grad[n]: one batched GEMM per
// subset k on a strided view of x, never a permuted copy.
at::Tensor backward_a(const at::Tensor& grad, const at::Tensor& x, bool per_sample) {
  TORCH_CHECK(x.dim() == 5, "graph_aggregate backward: x must have shape [N, K, C, T, V], got ",
              x.sizes());
  const int64_t n = x.size(0), subsets = x.size(1), joints = x.size(4);
  const int64_t rows = x.size(2) * x.size(3);
  TORCH_CHECK(grad.dim() == 4 && grad.size(0) == n && grad.size(1) * grad.size(2) == rows &&
                  grad.size(3) == joints,
              "graph_aggregate backward: grad must have shape [N, C, T, V] matching x ", x.sizes(),
              ", got ", grad.sizes());
  TORCH_CHECK(grad.scalar_type() == x.scalar_type() && grad.device() == x.device(),
              "graph_aggregate backward: grad and x must have the same dtype and device");
  const at::Tensor x4 = x.reshape({n, subsets, rows, joints});
  const at::Tensor g = grad.reshape({n, rows, joints});
  std::vector<at::Tensor> per_subset;
  for (int64_t k = 0; k < subsets; ++k) {
    const at::Tensor gk = at::bmm(x4.select(1, k).transpose(1, 2), g);  // [N, V, V]
    per_subset.push_back(per_sample ? gk : gk.sum(0));
  }
  return at::stack(per_subset, per_sample ? 1 : 0);
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

TORCH_LIBRARY_IMPL(actionkit, CPU, m) { m.impl("_graph_aggregate_backward_a", &backward_a); }

#ifdef ACTIONKIT_WITH_CUDA
TORCH_LIBRARY_IMPL(actionkit, CUDA, m) { m.impl("_graph_aggregate_backward_a", &backward_a); }
#endif

}  // namespace actionkit::kernels::graph_aggregate
