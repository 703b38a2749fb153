// CPU kernels of RoIAlign3D. The taps of every output bin are listed once per
// RoI with the shared math and reused for every channel: the forward runs in
// parallel over (RoI, channel), the backward over channels, which never
// scatter into the same cell, so no atomics are needed.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "../../common/cpu_alloc.h"
#include "roi_align3d.h"

namespace actionkit::kernels::roi_align3d {
namespace {

constexpr int64_t kLanes = 8;  // channels per work item

// The taps of one RoI's output bins, bin b owning [bin_end[b-1], bin_end[b]).
template <typename acc_t>
struct TapTable {
  int64_t batch = 0;
  std::vector<int64_t> bin_end;
  std::vector<int32_t> offset;  // into one channel's [T, H, W] block
  std::vector<acc_t> weight;
};

template <typename acc_t>
std::vector<TapTable<acc_t>> build_tables(const acc_t* rois, int64_t num_rois,
                                          at::IntArrayRef shape, const Params& p) {
  std::vector<TapTable<acc_t>> tables(num_rois);
  const int64_t cols = p.tube ? 7 : 5;
  at::parallel_for(0, num_rois, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const Geometry<acc_t> g = geometry(rois + k * cols, p);
      TapTable<acc_t>& table = tables[k];
      table.batch = g.batch;
      table.bin_end.reserve(p.out_t * p.out_h * p.out_w);
      for (int64_t ti = 0; ti < p.out_t; ++ti)
        for (int64_t ph = 0; ph < p.out_h; ++ph)
          for (int64_t pw = 0; pw < p.out_w; ++pw) {
            const size_t first = table.offset.size();
            for_each_tap(g, ti, ph, pw, shape[2], shape[3], shape[4], p.out_t,
                         [&](int64_t off, acc_t w) {
                           // Neighbouring samples share cells: merge their taps.
                           for (size_t j = first; j < table.offset.size(); ++j) {
                             if (table.offset[j] == off) {
                               table.weight[j] += w;
                               return;
                             }
                           }
                           table.offset.push_back(static_cast<int32_t>(off));
                           table.weight.push_back(w);
                         });
            table.bin_end.push_back(static_cast<int64_t>(table.offset.size()));
          }
    }
  });
  return tables;
}

void check_block_size(at::IntArrayRef shape) {
  TORCH_CHECK(shape[2] * shape[3] * shape[4] <= std::numeric_limits<int32_t>::max(),
              "roi_align3d: T*H*W of features must be below 2^31 on the CPU, got shape ", shape);
}

at::Tensor forward_kernel(const at::Tensor& features, const at::Tensor& rois, const Params& p) {
  check_block_size(features.sizes());
  const int64_t num_rois = rois.size(0), channels = features.size(1);
  const int64_t bins = p.out_t * p.out_h * p.out_w;
  const int64_t block = features.size(2) * features.size(3) * features.size(4);
  at::Tensor out =
      empty_output({num_rois, channels, p.out_t, p.out_h, p.out_w}, features.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, features.scalar_type(), "roi_align3d_cpu", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const auto tables =
            build_tables(rois.const_data_ptr<acc_t>(), num_rois, features.sizes(), p);
        const scalar_t* in = features.const_data_ptr<scalar_t>();
        scalar_t* dst = out.mutable_data_ptr<scalar_t>();
        // Work items are (batch, block of kLanes channels): each plane is read
        // from memory once for all of its RoIs, and each walk of a tap table
        // feeds kLanes independent sums.
        const int64_t batches = features.size(0);
        const int64_t cblocks = (channels + kLanes - 1) / kLanes;
        std::vector<std::vector<int64_t>> rois_of(batches);
        for (int64_t k = 0; k < num_rois; ++k) rois_of[tables[k].batch].push_back(k);
        at::parallel_for(0, batches * cblocks, 1, [&](int64_t begin, int64_t end) {
          for (int64_t item = begin; item < end; ++item) {
            const int64_t b = item / cblocks, c0 = (item % cblocks) * kLanes;
            const int64_t lanes = std::min(kLanes, channels - c0);
            const scalar_t* planes[kLanes];
            for (int64_t v = 0; v < kLanes; ++v) {  // spare lanes re-read the last channel
              planes[v] = in + (b * channels + c0 + std::min(v, lanes - 1)) * block;
            }
            for (const int64_t k : rois_of[b]) {
              const TapTable<acc_t>& t = tables[k];
              scalar_t* rows = dst + (k * channels + c0) * bins;
              int64_t j = 0;
              for (int64_t bin = 0; bin < bins; ++bin) {
                acc_t sum[kLanes] = {};
                for (; j < t.bin_end[bin]; ++j) {
                  const acc_t w = t.weight[j];
                  const int32_t off = t.offset[j];
                  for (int64_t v = 0; v < kLanes; ++v) {
                    sum[v] += w * static_cast<acc_t>(planes[v][off]);
                  }
                }
                for (int64_t v = 0; v < lanes; ++v)
                  rows[v * bins + bin] = static_cast<scalar_t>(sum[v]);
              }
            }
          }
        });
      });
  return out;
}

at::Tensor backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                           at::IntArrayRef input_shape, const Params& p) {
  check_block_size(input_shape);
  const int64_t num_rois = rois.size(0), channels = input_shape[1];
  const int64_t bins = p.out_t * p.out_h * p.out_w;
  const int64_t block = input_shape[2] * input_shape[3] * input_shape[4];
  at::Tensor grad_features =
      empty_output(input_shape, grad.options().dtype(rois.scalar_type())).zero_();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, grad.scalar_type(), "roi_align3d_backward_cpu", [&] {
        using acc_t = at::opmath_type<scalar_t>;
        const auto tables = build_tables(rois.const_data_ptr<acc_t>(), num_rois, input_shape, p);
        const scalar_t* gy = grad.const_data_ptr<scalar_t>();
        acc_t* gx = grad_features.mutable_data_ptr<acc_t>();
        const int64_t cblocks = (channels + kLanes - 1) / kLanes;
        at::parallel_for(0, cblocks, 1, [&](int64_t begin, int64_t end) {
          for (int64_t cb = begin; cb < end; ++cb) {
            const int64_t c0 = cb * kLanes, lanes = std::min(kLanes, channels - c0);
            for (int64_t k = 0; k < num_rois; ++k) {
              const TapTable<acc_t>& t = tables[k];
              acc_t* planes[kLanes];
              const scalar_t* rows = gy + (k * channels + c0) * bins;
              for (int64_t v = 0; v < kLanes; ++v) {  // spare lanes add zeros to the last channel
                planes[v] = gx + (t.batch * channels + c0 + std::min(v, lanes - 1)) * block;
              }
              int64_t j = 0;
              for (int64_t bin = 0; bin < bins; ++bin) {
                acc_t g[kLanes];
                for (int64_t v = 0; v < kLanes; ++v) {
                  g[v] = v < lanes ? static_cast<acc_t>(rows[v * bins + bin]) : acc_t(0);
                }
                for (; j < t.bin_end[bin]; ++j) {
                  const acc_t w = t.weight[j];
                  const int32_t off = t.offset[j];
                  for (int64_t v = 0; v < kLanes; ++v) planes[v][off] += w * g[v];
                }
              }
            }
          }
        });
      });
  return grad_features;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("roi_align3d", &forward_op<&forward_kernel>);
  m.impl("_roi_align3d_backward", &backward_op<&backward_kernel>);
}

}  // namespace actionkit::kernels::roi_align3d
