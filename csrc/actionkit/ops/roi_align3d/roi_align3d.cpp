// RoIAlign3D: schema, argument checks and strategy shared by every backend,
// and the autograd registration.
#include "roi_align3d.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/div.h>
#include <ATen/ops/mean.h>
#include <ATen/ops/zeros.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "actionkit/ops.h"

namespace actionkit::kernels::roi_align3d {
namespace {

at::ScalarType acc_dtype(at::ScalarType t) { return t == at::kDouble ? at::kDouble : at::kFloat; }

Params make_params(at::IntArrayRef output_size, double spatial_scale, int64_t sampling_ratio,
                   bool aligned, double temporal_scale, bool tube) {
  TORCH_CHECK(output_size.size() == 3,
              "roi_align3d: output_size must have 3 entries (t, h, w), got ", output_size);
  TORCH_CHECK(output_size[0] > 0 && output_size[1] > 0 && output_size[2] > 0,
              "roi_align3d: output_size must be positive, got ", output_size);
  TORCH_CHECK(spatial_scale > 0, "roi_align3d: spatial_scale must be positive, got ",
              spatial_scale);
  TORCH_CHECK(temporal_scale > 0, "roi_align3d: temporal_scale must be positive, got ",
              temporal_scale);
  return {output_size[0], output_size[1], output_size[2], spatial_scale,
          temporal_scale, sampling_ratio, aligned,        tube};
}

void check_rois(const at::Tensor& rois, const at::Device& device, int64_t batches) {
  TORCH_CHECK(at::isFloatingType(rois.scalar_type()),
              "roi_align3d: rois must be a floating-point tensor, got dtype ", rois.scalar_type());
  TORCH_CHECK(rois.dim() == 2 && (rois.size(1) == 5 || rois.size(1) == 7),
              "roi_align3d: rois must have shape [K, 5] (batch, x1, y1, x2, y2) or [K, 7] "
              "(batch, t1, x1, y1, t2, x2, y2), got ",
              rois.sizes());
  TORCH_CHECK(rois.device() == device, "roi_align3d: rois is on ", rois.device(),
              " but features is on ", device, "; both must be on the same device");
  if (batches < 0 || rois.size(0) == 0 || !(rois.is_cpu() || rois.is_cuda())) return;
  if (rois.is_cuda()) {
    // One reduction and one synchronisation: a wrong index must be an error, not
    // the zeros the kernels would give it. The offending row is looked up on the
    // host only when there is one.
    const at::Tensor b = rois.select(1, 0);
    const at::Tensor bad =
        b.lt(0).logical_or_(b.ge(static_cast<double>(batches))).logical_or_(b.ne(b.trunc()));
    if (!bad.any().item<bool>()) return;
  }
  {
    const at::Tensor idx = rois.select(1, 0).to(at::kCPU, at::kDouble).contiguous();
    const double* p = idx.const_data_ptr<double>();
    for (int64_t k = 0; k < idx.numel(); ++k) {
      TORCH_CHECK(p[k] >= 0 && p[k] < static_cast<double>(batches) &&
                      p[k] == static_cast<double>(static_cast<int64_t>(p[k])),
                  "roi_align3d: rois[", k, ", 0] = ", p[k],
                  " is not a batch index of features (batch size ", batches, ")");
    }
  }
}

// Box RoIs with fewer temporal bins than frames can average the frames of
// each bin first (the op is linear, so the result is the same): worth it when
// reading the features once costs less than sampling every frame per RoI.
bool pool_frames_first(const Params& p, at::IntArrayRef shape, int64_t num_rois) {
  if (p.tube || p.out_t >= shape[2] || shape[0] == 0 || shape[1] == 0) return false;
  constexpr int64_t kTapsPerBin = 16;  // a 2x2 sampling grid, 4 taps each
  const int64_t per_frame = num_rois * p.out_h * p.out_w * kTapsPerBin;
  const int64_t direct = per_frame * shape[2];
  const int64_t pooled = shape[0] * shape[2] * shape[3] * shape[4] + per_frame * p.out_t;
  return pooled < direct;
}

// The frames of each temporal bin averaged (adaptive-pooling bins), in the
// accumulation dtype: [N, C, T, H, W] -> [N, C, t, H, W].
at::Tensor pool_frames(const at::Tensor& x, int64_t out_t, at::ScalarType acc) {
  const int64_t frames = x.size(2);
  if (frames % out_t == 0) {
    const int64_t n = frames / out_t;
    return at::mean(x.view({x.size(0), x.size(1), out_t, n, x.size(3), x.size(4)}), {3},
                    /*keepdim=*/false, acc)
        .contiguous();
  }
  std::vector<at::Tensor> bins;
  for (int64_t ti = 0; ti < out_t; ++ti) {
    const int64_t f0 = frame_begin(ti, frames, out_t), f1 = frame_end(ti, frames, out_t);
    bins.push_back(at::mean(x.narrow(2, f0, f1 - f0), {2}, /*keepdim=*/true, acc));
  }
  return at::cat(bins, 2);
}

// The gradient of pool_frames: each bin's gradient spread evenly over its frames.
at::Tensor unpool_frames(const at::Tensor& grad, at::IntArrayRef input_shape,
                         at::ScalarType dtype) {
  const int64_t frames = input_shape[2], out_t = grad.size(2);
  if (frames % out_t == 0) {
    const int64_t n = frames / out_t;
    const at::Tensor g = grad.div(static_cast<double>(n)).to(dtype).unsqueeze(3);
    return g.expand({input_shape[0], input_shape[1], out_t, n, input_shape[3], input_shape[4]})
        .reshape(input_shape)
        .contiguous();
  }
  at::Tensor out = at::zeros(input_shape, grad.options());
  for (int64_t ti = 0; ti < out_t; ++ti) {
    const int64_t f0 = frame_begin(ti, frames, out_t), f1 = frame_end(ti, frames, out_t);
    out.narrow(2, f0, f1 - f0).add_(grad.narrow(2, ti, 1), 1.0 / static_cast<double>(f1 - f0));
  }
  return out.to(dtype);
}

}  // namespace

at::Tensor forward(const at::Tensor& features, const at::Tensor& rois, at::IntArrayRef output_size,
                   double spatial_scale, int64_t sampling_ratio, bool aligned,
                   double temporal_scale, ForwardKernel kernel) {
  TORCH_CHECK(at::isFloatingType(features.scalar_type()),
              "roi_align3d: features must be a floating-point tensor, got dtype ",
              features.scalar_type());
  TORCH_CHECK(features.dim() == 5, "roi_align3d: features must have shape [N, C, T, H, W], got ",
              features.sizes());
  TORCH_CHECK(features.size(2) > 0 && features.size(3) > 0 && features.size(4) > 0,
              "roi_align3d: features must have T, H, W > 0, got shape ", features.sizes());
  check_rois(rois, features.device(), features.size(0));
  Params p = make_params(output_size, spatial_scale, sampling_ratio, aligned, temporal_scale,
                         rois.size(1) == 7);
  const at::ScalarType acc = acc_dtype(features.scalar_type());
  const at::Tensor rois_acc = rois.to(acc).contiguous();
  if (pool_frames_first(p, features.sizes(), rois.size(0))) {
    return kernel(pool_frames(features, p.out_t, acc), rois_acc, p).to(features.scalar_type());
  }
  return kernel(features.contiguous(), rois_acc, p);
}

at::Tensor backward(const at::Tensor& grad, const at::Tensor& rois,
                    c10::SymIntArrayRef input_shape_sym, at::IntArrayRef output_size,
                    double spatial_scale, int64_t sampling_ratio, bool aligned,
                    double temporal_scale, BackwardKernel kernel) {
  const at::IntArrayRef input_shape = C10_AS_INTARRAYREF_SLOW(input_shape_sym);
  TORCH_CHECK(input_shape.size() == 5,
              "roi_align3d backward: input_shape must be [N, C, T, H, W], got ", input_shape);
  check_rois(rois, grad.device(), input_shape[0]);
  Params p = make_params(output_size, spatial_scale, sampling_ratio, aligned, temporal_scale,
                         rois.size(1) == 7);
  TORCH_CHECK(at::isFloatingType(grad.scalar_type()),
              "roi_align3d backward: grad must be a floating-point tensor, got dtype ",
              grad.scalar_type());
  const std::vector<int64_t> expected{rois.size(0), input_shape[1], p.out_t, p.out_h, p.out_w};
  TORCH_CHECK(grad.sizes() == at::IntArrayRef(expected),
              "roi_align3d backward: grad must have shape ", at::IntArrayRef(expected), ", got ",
              grad.sizes());
  const at::ScalarType acc = acc_dtype(grad.scalar_type());
  const at::Tensor rois_acc = rois.to(acc).contiguous();
  if (pool_frames_first(p, input_shape, rois.size(0))) {
    std::vector<int64_t> pooled_shape(input_shape.begin(), input_shape.end());
    pooled_shape[2] = p.out_t;
    const at::Tensor grad_pooled = kernel(grad.contiguous(), rois_acc, pooled_shape, p);
    return unpool_frames(grad_pooled, input_shape, grad.scalar_type());
  }
  return kernel(grad.contiguous(), rois_acc, input_shape, p).to(grad.scalar_type());
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::array<int64_t, 3> to_array(at::IntArrayRef size) {
  TORCH_CHECK(size.size() == 3, "roi_align3d: output_size must have 3 entries (t, h, w), got ",
              size);
  return {size[0], size[1], size[2]};
}

// The op's non-tensor arguments, kept on the autograd context.
struct ScalarArgs {
  std::vector<int64_t> output_size;
  double spatial_scale;
  int64_t sampling_ratio;
  bool aligned;
  double temporal_scale;

  void save(AutogradContext* ctx) const {
    ctx->saved_data["output_size"] = output_size;
    ctx->saved_data["spatial_scale"] = spatial_scale;
    ctx->saved_data["sampling_ratio"] = sampling_ratio;
    ctx->saved_data["aligned"] = aligned;
    ctx->saved_data["temporal_scale"] = temporal_scale;
  }

  static ScalarArgs load(AutogradContext* ctx) {
    return {ctx->saved_data["output_size"].toIntVector(),
            ctx->saved_data["spatial_scale"].toDouble(), ctx->saved_data["sampling_ratio"].toInt(),
            ctx->saved_data["aligned"].toBool(), ctx->saved_data["temporal_scale"].toDouble()};
  }
};

// The op is linear in features: the gradient of its backward is the forward
// applied to the incoming gradient, which makes double backward work.
class RoiAlign3dBackwardFunction : public torch::autograd::Function<RoiAlign3dBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& rois,
                            c10::SymIntArrayRef input_shape, at::IntArrayRef output_size,
                            double spatial_scale, int64_t sampling_ratio, bool aligned,
                            double temporal_scale) {
    ctx->save_for_backward({rois});
    ScalarArgs{output_size.vec(), spatial_scale, sampling_ratio, aligned, temporal_scale}.save(ctx);
    at::AutoDispatchBelowADInplaceOrView guard;
    return detail::roi_align3d_backward(grad, rois, input_shape, to_array(output_size),
                                        spatial_scale, sampling_ratio, aligned, temporal_scale);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    const at::Tensor rois = ctx->get_saved_variables()[0];
    const ScalarArgs a = ScalarArgs::load(ctx);
    variable_list out(8);  // only grad has a gradient
    out[0] = actionkit::roi_align3d(grads[0], rois, to_array(a.output_size), a.spatial_scale,
                                    a.sampling_ratio, a.aligned, a.temporal_scale);
    return out;
  }
};

class RoiAlign3dFunction : public torch::autograd::Function<RoiAlign3dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& features,
                            const at::Tensor& rois, at::IntArrayRef output_size,
                            double spatial_scale, int64_t sampling_ratio, bool aligned,
                            double temporal_scale) {
    ctx->save_for_backward({rois});
    ctx->saved_data["input_shape"] = features.sym_sizes().vec();
    ScalarArgs{output_size.vec(), spatial_scale, sampling_ratio, aligned, temporal_scale}.save(ctx);
    at::AutoDispatchBelowADInplaceOrView guard;
    return actionkit::roi_align3d(features, rois, to_array(output_size), spatial_scale,
                                  sampling_ratio, aligned, temporal_scale);
  }
  static variable_list backward(AutogradContext* ctx, const variable_list& grads) {
    const at::Tensor rois = ctx->get_saved_variables()[0];
    const std::vector<c10::SymInt> input_shape = ctx->saved_data["input_shape"].toSymIntVector();
    const ScalarArgs a = ScalarArgs::load(ctx);
    variable_list out(7);  // only features has a gradient
    out[0] = RoiAlign3dBackwardFunction::apply(grads[0], rois, input_shape, a.output_size,
                                               a.spatial_scale, a.sampling_ratio, a.aligned,
                                               a.temporal_scale);
    return out;
  }
};

at::Tensor forward_autograd(const at::Tensor& features, const at::Tensor& rois,
                            at::IntArrayRef output_size, double spatial_scale,
                            int64_t sampling_ratio, bool aligned, double temporal_scale) {
  return RoiAlign3dFunction::apply(features, rois, output_size, spatial_scale, sampling_ratio,
                                   aligned, temporal_scale);
}

at::Tensor backward_autograd(const at::Tensor& grad, const at::Tensor& rois,
                             c10::SymIntArrayRef input_shape, at::IntArrayRef output_size,
                             double spatial_scale, int64_t sampling_ratio, bool aligned,
                             double temporal_scale) {
  return RoiAlign3dBackwardFunction::apply(grad, rois, input_shape, output_size, spatial_scale,
                                           sampling_ratio, aligned, temporal_scale);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def(
      "roi_align3d(Tensor features, Tensor rois, int[3] output_size, float spatial_scale=1.0, "
      "int sampling_ratio=0, bool aligned=True, float temporal_scale=1.0) -> Tensor");
  m.def(
      "_roi_align3d_backward(Tensor grad, Tensor rois, SymInt[5] input_shape, int[3] "
      "output_size, float spatial_scale, int sampling_ratio, bool aligned, float "
      "temporal_scale) -> Tensor");
}

TORCH_LIBRARY_IMPL(actionkit, Autograd, m) {
  m.impl("roi_align3d", &forward_autograd);
  m.impl("_roi_align3d_backward", &backward_autograd);
}

}  // namespace actionkit::kernels::roi_align3d
