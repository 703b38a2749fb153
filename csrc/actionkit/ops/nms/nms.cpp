// Non-maximum suppression for boxes and segments and the temporal IoU: schema,
// argument checks and the device-generic parts (sorting, the greedy scan over
// the suppression bitmask, batched NMS). No gradients: these are selections.
#include "nms.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/max.h>
#include <ATen/ops/sort.h>
#include <torch/library.h>

#include <vector>

#include "actionkit/ops.h"

namespace actionkit::kernels::nms {
namespace {

void check_rows(const at::Tensor& rows, int64_t dims, const char* op, const char* arg) {
  TORCH_CHECK(at::isFloatingType(rows.scalar_type()), op, ": ", arg,
              " must be a floating-point tensor, got dtype ", rows.scalar_type());
  TORCH_CHECK(rows.dim() == 2 && rows.size(1) == 2 * dims, op, ": ", arg, " must have shape [K, ",
              2 * dims, "], got ", rows.sizes());
}

}  // namespace

at::Tensor suppress(const at::Tensor& rows, const at::Tensor& scores, double threshold,
                    int64_t dims, const char* op, MaskFn mask) {
  check_rows(rows, dims, op, dims == 2 ? "boxes" : "segments");
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == rows.size(0), op,
              ": scores must have shape [K] = [", rows.size(0), "], got ", scores.sizes());
  TORCH_CHECK(at::isFloatingType(scores.scalar_type()), op,
              ": scores must be a floating-point tensor, got dtype ", scores.scalar_type());
  TORCH_CHECK(scores.device() == rows.device(), op, ": scores is on ", scores.device(), " but ",
              dims == 2 ? "boxes" : "segments", " is on ", rows.device());
  const int64_t count = rows.size(0);
  if (count == 0) return at::empty({0}, rows.options().dtype(at::kLong));
  // Stable, so equal scores keep their input order.
  const at::Tensor order =
      std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const auto work = rows.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor sorted = rows.index_select(0, order).to(work).contiguous();
  // The greedy scan is sequential and reads a few bits per row: on the host.
  const at::Tensor bits = mask(sorted, dims, threshold).cpu().contiguous();
  const int64_t words = bits.size(1);
  const auto* m = reinterpret_cast<const uint64_t*>(bits.const_data_ptr<int64_t>());
  std::vector<uint64_t> removed(words, 0);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < count; ++i) {
    if (removed[i / 64] >> (i % 64) & 1) continue;
    keep.push_back(i);
    for (int64_t w = i / 64; w < words; ++w) removed[w] |= m[i * words + w];
  }
  const at::Tensor kept = at::from_blob(keep.data(), {static_cast<int64_t>(keep.size())},
                                        at::TensorOptions().dtype(at::kLong))
                              .to(order.device());
  return order.index_select(0, kept);
}

at::Tensor checked_temporal_iou(const at::Tensor& a, const at::Tensor& b, IouFn iou) {
  check_rows(a, 1, "temporal_iou", "a");
  check_rows(b, 1, "temporal_iou", "b");
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "temporal_iou: a has dtype ", a.scalar_type(),
              " but b has ", b.scalar_type(), "; they must match");
  TORCH_CHECK(a.device() == b.device(), "temporal_iou: a is on ", a.device(), " but b is on ",
              b.device());
  const auto work = a.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return iou(a.to(work).contiguous(), b.to(work).contiguous()).to(a.scalar_type());
}

namespace {

// torchvision's batched NMS: boxes of different categories are moved apart by
// idx * (largest coordinate + 1) so one NMS never compares across categories.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  TORCH_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0),
              "batched_nms: idxs must have shape [K] = [", boxes.size(0), "], got ", idxs.sizes());
  TORCH_CHECK(at::isIntegralType(idxs.scalar_type(), /*includeBool=*/false),
              "batched_nms: idxs must hold integer category indices, got dtype ",
              idxs.scalar_type());
  TORCH_CHECK(idxs.device() == boxes.device(), "batched_nms: idxs is on ", idxs.device(),
              " but boxes are on ", boxes.device());
  if (boxes.numel() == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  const at::Tensor offsets = idxs.to(boxes.options()) * (boxes.max() + 1);
  return actionkit::nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def("nms(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor");
  m.def("temporal_nms(Tensor segments, Tensor scores, float iou_threshold) -> Tensor");
  m.def("temporal_iou(Tensor a, Tensor b) -> Tensor");
  m.def("batched_nms(Tensor boxes, Tensor scores, Tensor idxs, float iou_threshold) -> Tensor",
        &batched_nms);
}

}  // namespace actionkit::kernels::nms
