// actionkit's public C++ API: the ops, called through the PyTorch dispatcher,
// so they run on every device the library was built for and are
// differentiable (autograd is registered in C++).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace actionkit {

// Temporal shift of TSM. x: [N*T, C, H, W] (with T = num_segments) or
// [N, T, C, H, W]. Channels [0, C/shift_div) take the next frame's values,
// the next C/shift_div channels the previous frame's, the rest are copied;
// frames past either end contribute zeros.
at::Tensor temporal_shift(const at::Tensor& x, int64_t num_segments, int64_t shift_div = 8);

// Temporal interlace shift of TIN. x: [N, T, C, ...]; offset: [N, G] (float),
// the C channels in G equal groups. Group g of sample n is moved offset[n, g]
// frames later, a fractional offset interpolating linearly between the two
// whole shifts around it; frames past either end contribute zeros:
// out[t] = (1 - f) x[t - k] + f x[t - k - 1], k = floor(o), f = o - k (mmcv's
// tin_shift at whole offsets, MMAction2's linear_sampler at fractional ones).
// Differentiable in x and offset, to second order.
at::Tensor tin_shift(const at::Tensor& x, const at::Tensor& offset);

// RoIAlign over clips. features: [N, C, T, H, W]; rois: [K, 5] rows
// (batch, x1, y1, x2, y2), a box held over the whole clip whose T frames are
// average-pooled into t bins, or [K, 7] rows (batch, t1, x1, y1, t2, x2, y2),
// a box with temporal extent sampled trilinearly into t bins.
// output_size = {t, h, w}; returns [K, C, t, h, w].
at::Tensor roi_align3d(const at::Tensor& features, const at::Tensor& rois,
                       std::array<int64_t, 3> output_size, double spatial_scale = 1.0,
                       int64_t sampling_ratio = 0, bool aligned = true,
                       double temporal_scale = 1.0);

// Graph aggregation of ST-GCN/AGCN: out[n,c,t,w] = sum_k sum_v x[n,k,c,t,v] A[k,v,w].
// x: [N, K, C, T, V]; A: [K, V, V], or [N, K, V, V] for a graph per sample.
// Returns [N, C, T, V]; differentiable in x and A.
at::Tensor graph_aggregate(const at::Tensor& x, const at::Tensor& a);

// The Boundary-Matching layer of BMN. x: [N, C, T] -> [N, C, S, T, T] indexed
// (sample, duration, start): MMAction2's matmul(x, sample_mask) without the mask.
at::Tensor bm_sampling(const at::Tensor& x, int64_t num_samples = 32,
                       int64_t num_samples_per_bin = 3, double prop_boundary_ratio = 0.5);

// The same sampling summed over the samples, sample s reading row s of y:
// y [N, C, S, T] -> [N, C, T, T]. With y = einsum("ocs,nct->nost", W, x) it
// equals Conv3d(weight W, kernel (S, 1, 1)) applied to bm_sampling(x).
at::Tensor bm_sampling_sum(const at::Tensor& y, int64_t num_samples_per_bin = 3,
                           double prop_boundary_ratio = 0.5);

// Greedy non-maximum suppression with torchvision's semantics: boxes [K, 4]
// (x1, y1, x2, y2), scores [K]; returns the int64 indices kept, highest score
// first; a box is dropped when its IoU with a kept box exceeds iou_threshold.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

// NMS within each category idxs [K] (torchvision's batched_nms).
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold);

// NMS of temporal segments [K, 2] (start, end), with MMAction2's temporal IoU.
at::Tensor temporal_nms(const at::Tensor& segments, const at::Tensor& scores, double iou_threshold);

// Pairwise IoU of segments a [K, 2] and b [M, 2] -> [K, M] (MMAction2's temporal_iou).
at::Tensor temporal_iou(const at::Tensor& a, const at::Tensor& b);

// Soft-NMS of boxes [K, 4] with mmcv's semantics (method "linear", "gaussian"
// or "naive"); returns (dets [M, 5] = (x1, y1, x2, y2, decayed score), keep [M]).
std::tuple<at::Tensor, at::Tensor> soft_nms(const at::Tensor& boxes, const at::Tensor& scores,
                                            double iou_threshold = 0.3, double sigma = 0.5,
                                            double min_score = 1e-3,
                                            const std::string& method = "linear",
                                            int64_t offset = 0);

// Soft-NMS of temporal proposals [K, 2] with MMAction2's localization semantics;
// returns (dets [M, 3] = (start, end, score), keep [M]), at most top_k (or
// top_k + 1 with legacy_top_k, as MMAction2 returns).
std::tuple<at::Tensor, at::Tensor> temporal_soft_nms(const at::Tensor& segments,
                                                     const at::Tensor& scores, double alpha = 0.4,
                                                     double low_threshold = 0.5,
                                                     double high_threshold = 0.9,
                                                     int64_t top_k = 100,
                                                     bool legacy_top_k = false);

// Fused clip preprocessing: uint8 frames [B, T, H, W, C] -> crop boxes [B, 4] (x1, y1, x2,
// y2 in pixels) -> bilinear resize to size (h, w) -> horizontal flip where flip [B] is true
// -> (v - mean) / std per channel -> float [B, C, T, h, w] ("NCTHW") or [B, T, C, h, w]
// ("NTCHW"), in `dtype` (float32 by default). One pass, CPU or CUDA.
at::Tensor preprocess(const at::Tensor& frames, const at::Tensor& boxes, const at::Tensor& flip,
                      std::array<int64_t, 2> size, const std::vector<double>& mean,
                      const std::vector<double>& std, const std::string& layout = "NCTHW",
                      std::optional<at::ScalarType> dtype = std::nullopt);

// PoseC3D's pseudo heatmaps (MMAction2's GeneratePoseTarget): keypoints float [N, M, T,
// V, 2] (x, y in output pixels) with scores [N, M, T, V] -> float [N, C, T, H, W], per
// keypoint exp(-d^2 / 2 sigma^2) * score (then per limb, the distance to the segment
// between its keypoints, scaled by the lower score), max over the M people, inside
// MMAction2's 3-sigma windows. C = V (with_kp) + L limbs [L, 2] (int64, on the CPU),
// appended after the keypoints; legacy_merge max-merges limb l into channel l, as
// MMAction2 does when both are on. Keypoints scored below eps are left out. With
// flip_order (int64 [C], on the CPU) the output is [2N, ...]: samples N..2N-1 are the
// maps mirrored left-right, channel c showing channel flip_order[c] (left and right
// keypoints swapped): GeneratePoseTarget's `double`, written in the same pass.
at::Tensor pose_heatmaps(const at::Tensor& keypoints, const at::Tensor& scores,
                         std::array<int64_t, 2> size, double sigma, const at::Tensor& limbs,
                         bool with_kp = true, bool legacy_merge = false, double eps = 1e-4,
                         const std::optional<at::Tensor>& flip_order = std::nullopt);

// TV-L1 optical flow (Zach, Pock and Bischof 2007) with OpenCV DualTVL1's discretisation
// and defaults: grey frames float [N, H, W] (0..255) -> flow float [N, 2, H, W] (x, y)
// from frames_a to frames_b, a(x, y) ~ b(x + u, y + v). A pyramid of bilinear resizes by
// scale_step (levels under 16 pixels dropped), per level `warps` bicubic warps, each with
// up to outer x inner primal-dual iterations (a median_filtering x median_filtering
// median of the flow, 3 or 5 or 0 for none, before each outer one), stopping once the
// summed squared change of a pair's flow is at most epsilon^2 per pixel.
at::Tensor optical_flow_tvl1(const at::Tensor& frames_a, const at::Tensor& frames_b,
                             double tau = 0.25, double lambd = 0.15, double theta = 0.3,
                             int64_t scales = 5, int64_t warps = 5, double epsilon = 0.01,
                             int64_t inner_iterations = 30, int64_t outer_iterations = 10,
                             double scale_step = 0.8, int64_t median_filtering = 5);

namespace detail {

// The registered backward ops, for the autograd functions.
at::Tensor temporal_shift_backward(const at::Tensor& grad, int64_t num_segments, int64_t shift_div);
std::tuple<at::Tensor, at::Tensor> tin_shift_backward(const at::Tensor& grad, const at::Tensor& x,
                                                      const at::Tensor& offset);
at::Tensor roi_align3d_backward(const at::Tensor& grad, const at::Tensor& rois,
                                c10::SymIntArrayRef input_shape, std::array<int64_t, 3> output_size,
                                double spatial_scale, int64_t sampling_ratio, bool aligned,
                                double temporal_scale);

at::Tensor graph_aggregate_backward_x(const at::Tensor& grad, const at::Tensor& a);
at::Tensor graph_aggregate_backward_a(const at::Tensor& grad, const at::Tensor& x, bool per_sample);

at::Tensor bm_sampling_backward(const at::Tensor& grad, int64_t num_samples,
                                int64_t num_samples_per_bin, double prop_boundary_ratio);
at::Tensor bm_sampling_sum_backward(const at::Tensor& grad, int64_t num_samples,
                                    int64_t num_samples_per_bin, double prop_boundary_ratio);

}  // namespace detail
}  // namespace actionkit
