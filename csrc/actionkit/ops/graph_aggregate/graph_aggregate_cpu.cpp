// CPU kernels of graph aggregation: parallel over rows of x; A (a few KB) stays
// in cache. The forward reads A transposed so each dot product is contiguous.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "graph_aggregate.h"

namespace actionkit::kernels::graph_aggregate {
namespace {

constexpr int64_t kGrainElements = 1 << 14;

at::Tensor forward_cpu(const at::Tensor& x_in, const at::Tensor& a_in) {
  const Dims d = check_args(x_in, a_in);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor at = a_in.transpose(-1, -2).contiguous();  // [.., K, W, V]
  at::Tensor out = at::empty({x.size(0), x.size(2), x.size(3), x.size(4)}, x.options());
  const int64_t vv = d.joints * d.joints;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, x.scalar_type(), "graph_aggregate", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* xp = x.const_data_ptr<scalar_t>();
        const scalar_t* ap = at.const_data_ptr<scalar_t>();
        scalar_t* op = out.mutable_data_ptr<scalar_t>();
        const int64_t grain =
            std::max<int64_t>(1, kGrainElements / std::max<int64_t>(vv * d.subsets, 1));
        at::parallel_for(0, d.batches * d.rows, grain, [&](int64_t begin, int64_t end) {
          for (int64_t nr = begin; nr < end; ++nr) {
            const int64_t n = nr / d.rows, r = nr % d.rows;
            const scalar_t* graph = ap + (d.per_sample ? n : 0) * d.subsets * vv;
            for (int64_t w = 0; w < d.joints; ++w) {
              op[nr * d.joints + w] =
                  static_cast<scalar_t>(aggregate<acc_t>(d, xp, graph + w * d.joints, vv, 1, n, r));
            }
          }
        });
      });
  return out;
}

at::Tensor backward_x_cpu(const at::Tensor& grad_in, const at::Tensor& a_in) {
  const Dims d = check_grad(grad_in, a_in);
  const at::Tensor grad = grad_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor gx = at::empty({grad.size(0), d.subsets, grad.size(1), grad.size(2), grad.size(3)},
                            grad.options());
  const int64_t vv = d.joints * d.joints;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, grad.scalar_type(), "graph_aggregate_backward_x", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const scalar_t* gp = grad.const_data_ptr<scalar_t>();
        const scalar_t* ap = a.const_data_ptr<scalar_t>();
        scalar_t* xp = gx.mutable_data_ptr<scalar_t>();
        const int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(vv, 1));
        // Rows (n, k, r) of grad_x; each element a contiguous dot product over w.
        at::parallel_for(0, d.batches * d.subsets * d.rows, grain, [&](int64_t begin, int64_t end) {
          for (int64_t nkr = begin; nkr < end; ++nkr) {
            const int64_t r = nkr % d.rows, nk = nkr / d.rows;
            const int64_t k = nk % d.subsets, n = nk / d.subsets;
            const scalar_t* graph = ap + ((d.per_sample ? n : 0) * d.subsets + k) * vv;
            for (int64_t v = 0; v < d.joints; ++v) {
              xp[nkr * d.joints + v] =
                  static_cast<scalar_t>(grad_x<acc_t>(d, gp, graph + v * d.joints, n, r));
            }
          }
        });
      });
  return gx;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("graph_aggregate", &forward_cpu);
  m.impl("_graph_aggregate_backward_x", &backward_x_cpu);
}

}  // namespace actionkit::kernels::graph_aggregate
