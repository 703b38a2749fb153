// Calls actionkit's ops from C++ and checks them against hand-worked values,
// including gradients through the autograd registered in C++.
#include <actionkit/actionkit.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

bool close(const at::Tensor& a, const at::Tensor& b, double tol = 1e-12) {
  return a.sizes() == b.sizes() && (a - b).abs().max().item<double>() <= tol;
}

void temporal_shift() {
  // N=1, T=3, C=4, shift_div=4 -> fold 1: channel 0 from t+1, channel 1 from t-1.
  const auto x = torch::arange(12, torch::kFloat64).reshape({3, 4, 1, 1}).requires_grad_();
  const auto y = actionkit::temporal_shift(x, 3, 4);
  const auto expected =
      torch::tensor({4., 0., 2., 3., 8., 1., 6., 7., 0., 5., 10., 11.}, torch::kFloat64)
          .reshape({3, 4, 1, 1});
  check(close(y, expected), "temporal_shift forward");
  // d(sum(w * y))/dx: the gradient moves the opposite way.
  const auto w = torch::arange(12, torch::kFloat64).reshape({3, 4, 1, 1});
  (y * w).sum().backward();
  const auto expected_grad =
      torch::tensor({0., 5., 2., 3., 0., 9., 6., 7., 4., 0., 10., 11.}, torch::kFloat64)
          .reshape({3, 4, 1, 1});
  check(close(x.grad(), expected_grad), "temporal_shift backward (C++ autograd)");
}

void tin_shift() {
  // N=1, T=4, 2 groups of one channel: x[t] = t + 1 and 10 (t + 1); offsets 0.25, -1.5.
  const auto base = torch::arange(1, 5, torch::kFloat64).view({1, 4, 1, 1});
  const auto x = torch::cat({base, 10 * base}, 2).requires_grad_();
  const auto offset = torch::tensor({0.25, -1.5}, torch::kFloat64).view({1, 2}).requires_grad_();
  const auto y = actionkit::tin_shift(x, offset);
  // channel 0: 0.75 x[t] + 0.25 x[t - 1]; channel 1: 0.5 x[t + 2] + 0.5 x[t + 1]
  const auto expected = torch::tensor({0.75, 25., 1.75, 35., 2.75, 20., 3.75, 0.}, torch::kFloat64)
                            .view({1, 4, 2, 1});
  check(close(y, expected), "tin_shift forward");
  y.sum().backward();
  // d sum / d x[s]: the weights that reach frame s; d sum / d o: sum of x[t-k-1] - x[t-k]
  const auto expected_grad =
      torch::tensor({1., 0., 1., 0.5, 1., 1., 0.75, 1.}, torch::kFloat64).view({1, 4, 2, 1});
  check(close(x.grad(), expected_grad), "tin_shift input gradient (C++ autograd)");
  const auto expected_offset = torch::tensor({-4., 20.}, torch::kFloat64).view({1, 2});
  check(close(offset.grad(), expected_offset), "tin_shift offset gradient (C++ autograd)");
}

void roi_align3d() {
  // f[t, y, x] = 100 t + 10 y + x on a 2x4x4 clip: interpolation of it is exact.
  const auto t = torch::arange(2, torch::kFloat64).view({2, 1, 1});
  const auto yx = torch::arange(4, torch::kFloat64);
  const auto f = (100 * t + 10 * yx.view({1, 4, 1}) + yx.view({1, 1, 4}))
                     .reshape({1, 1, 2, 4, 4})
                     .requires_grad_();
  // Box (0,0)-(4,4), aligned, 2x2 bins, one sample each at 0.5 + 2p; mean over t: 50.
  const auto rois = torch::tensor({0., 0., 0., 4., 4.}, torch::kFloat64).view({1, 5});
  const auto out = actionkit::roi_align3d(f, rois, {1, 2, 2}, 1.0, 1, true);
  const auto expected =
      torch::tensor({55.5, 57.5, 75.5, 77.5}, torch::kFloat64).view({1, 1, 1, 2, 2});
  check(close(out, expected), "roi_align3d box forward");
  // Each output averages one bilinear sample over two frames: the gradients sum to 4.
  out.sum().backward();
  check(std::abs(f.grad().sum().item<double>() - 4.0) < 1e-12,
        "roi_align3d backward (C++ autograd)");
  // A tube t in [1, 3) of a 4-frame clip: one sample at (1.5, 1.5, 1.5).
  const auto clip = (100 * torch::arange(4, torch::kFloat64).view({4, 1, 1}) +
                     10 * yx.view({1, 4, 1}) + yx.view({1, 1, 4}))
                        .reshape({1, 1, 4, 4, 4});
  const auto tube = torch::tensor({0., 1., 0., 0., 3., 4., 4.}, torch::kFloat64).view({1, 7});
  const auto v = actionkit::roi_align3d(clip, tube, {1, 1, 1}, 1.0, 1, true);
  check(std::abs(v.item<double>() - 166.5) < 1e-12, "roi_align3d tube forward");
}

void graph_aggregate() {
  // A chain 0-1-2 with self loops, one subset; x[v] = 10^v.
  const auto a = torch::tensor({1., 1., 0., 1., 1., 1., 0., 1., 1.}, torch::kFloat64)
                     .view({1, 3, 3})
                     .requires_grad_();
  const auto x = torch::tensor({1., 10., 100.}, torch::kFloat64).view({1, 1, 1, 1, 3});
  const auto out = actionkit::graph_aggregate(x, a);
  check(close(out.flatten(), torch::tensor({11., 111., 110.}, torch::kFloat64)),
        "graph_aggregate forward");
  // d sum(out) / d A[0, v, w] = x[v], for every w.
  out.sum().backward();
  const auto expected =
      torch::tensor({1., 10., 100.}, torch::kFloat64).view({1, 3, 1}).expand({1, 3, 3});
  check(close(a.grad(), expected), "graph_aggregate backward to A (C++ autograd)");
}

void bm_sampling() {
  // T=3, S=1, P=2, ratio 0.5, x = [1, 10, 100]: (start 0, duration 0) = 0.75 x0 + 0.25 x1,
  // (start 2, duration 0) = 0.25 x1 + 0.5 x2 (see tests/test_bm_sampling.py).
  const auto x = torch::tensor({1., 10., 100.}, torch::kFloat64).view({1, 1, 3}).requires_grad_();
  const auto out = actionkit::bm_sampling(x, 1, 2, 0.5);
  check(out.sizes() == at::IntArrayRef({1, 1, 1, 3, 3}), "bm_sampling shape");
  check(std::abs(out[0][0][0][0][0].item<double>() - 3.25) < 1e-12 &&
            std::abs(out[0][0][0][0][2].item<double>() - 52.5) < 1e-12,
        "bm_sampling forward");
  out[0][0][0][0][0].backward();
  check(close(x.grad().flatten(), torch::tensor({0.75, 0.25, 0.}, torch::kFloat64)),
        "bm_sampling backward (C++ autograd)");
  const auto y = torch::randn({1, 2, 4, 6}, torch::kFloat64);
  auto summed = torch::zeros({1, 2, 6, 6}, torch::kFloat64);
  for (int64_t s = 0; s < 4; ++s) {
    summed += actionkit::bm_sampling(y.select(2, s), 4, 3, 0.5).select(2, s);
  }
  check(close(actionkit::bm_sampling_sum(y, 3, 0.5), summed, 1e-12), "bm_sampling_sum");
}

void suppression() {
  const auto boxes =
      torch::tensor({0., 0., 10., 10., 1., 1., 11., 11., 20., 20., 30., 30., 0., 0., 10., 5.})
          .view({4, 4});
  const auto scores = torch::tensor({0.9, 0.8, 0.7, 0.95});
  const auto keep = actionkit::nms(boxes, scores, 0.5);
  check(keep.equal(torch::tensor({3, 0, 2}, torch::kLong)), "nms (hand-worked, see test_nms.py)");
  const auto idxs = torch::tensor({0, 1, 0, 0}, torch::kLong);
  check(actionkit::batched_nms(boxes, scores, idxs, 0.5)
            .equal(torch::tensor({3, 0, 1, 2}, torch::kLong)),
        "batched_nms");
  const auto seg = torch::tensor({0., 10.}).view({1, 2});
  const auto others = torch::tensor({5., 15., 2., 4.}).view({2, 2});
  check(
      close(actionkit::temporal_iou(seg, others), torch::tensor({1. / 3, 0.2}).view({1, 2}), 1e-6),
      "temporal_iou");
  const auto segments = torch::tensor({0., 10., 1., 10., 20., 30.}).view({3, 2});
  check(actionkit::temporal_nms(segments, torch::tensor({0.9, 0.8, 0.7}), 0.5)
            .equal(torch::tensor({0, 2}, torch::kLong)),
        "temporal_nms");
}

void preprocessing() {
  // Hand-worked in tests/test_preprocess.py: a 2x2 grey frame upscaled to 4x4, flipped.
  const auto frame = torch::tensor({0, 100, 200, 40}, torch::kUInt8).view({1, 1, 2, 2, 1});
  const auto boxes = torch::tensor({0., 0., 2., 2.}).view({1, 4});
  const auto out = actionkit::preprocess(frame, boxes, torch::tensor({true}), {4, 4}, {0.0}, {1.0});
  const auto expected = torch::tensor({100., 75., 25., 0., 85., 76.25, 58.75, 50., 55., 78.75,
                                       126.25, 150., 40., 80., 160., 200.})
                            .view({1, 1, 1, 4, 4});
  check(out.equal(expected), "preprocess (hand-worked)");
}

void soft_suppression() {
  // Hand-worked in tests/test_soft_nms.py: linear soft-NMS keeps 0, 2, 1, 3 with 0.9, 0.7, 0.4,
  // 0.4.
  const auto boxes =
      torch::tensor({0., 0., 10., 10., 0., 0., 10., 5., 20., 20., 30., 30., 5., 0., 15., 10.},
                    torch::kFloat64)
          .view({4, 4});
  const auto scores = torch::tensor({0.9, 0.8, 0.7, 0.6}, torch::kFloat64);
  const auto [dets, keep] = actionkit::soft_nms(boxes, scores, 0.3, 0.5, 1e-3, "linear");
  check(keep.equal(torch::tensor({0, 2, 1, 3}, torch::kLong)) &&
            close(dets.select(1, 4), torch::tensor({0.9, 0.7, 0.4, 0.4}, torch::kFloat64)),
        "soft_nms");
  const auto segments =
      torch::tensor({0., 0.4, 0.05, 0.45, 0.6, 0.9}, torch::kFloat64).view({3, 2});
  const auto [tdets, tkeep] =
      actionkit::temporal_soft_nms(segments, torch::tensor({0.9, 0.8, 0.7}, torch::kFloat64));
  check(tkeep.equal(torch::tensor({0, 2, 1}, torch::kLong)), "temporal_soft_nms");
}

void optical_flow() {
  // a smooth pattern moved 2 pixels right and 1 down: the flow inside is about (2, 1)
  auto ys = torch::arange(48, torch::kFloat).view({48, 1});
  auto xs = torch::arange(64, torch::kFloat).view({1, 64});
  auto pattern = [&](double dx, double dy) {
    return (127.5 + 60 * torch::sin((xs - dx) * 0.35) + 60 * torch::cos((ys - dy) * 0.3))
        .unsqueeze(0);
  };
  const auto flow = actionkit::optical_flow_tvl1(pattern(0, 0), pattern(2, 1));
  check(flow.sizes() == at::IntArrayRef({1, 2, 48, 64}), "optical_flow_tvl1 shape");
  const auto inner = flow.index(
      {0, torch::indexing::Slice(), torch::indexing::Slice(8, 40), torch::indexing::Slice(8, 56)});
  check(std::abs(inner[0].mean().item<double>() - 2.0) < 0.05 &&
            std::abs(inner[1].mean().item<double>() - 1.0) < 0.05,
        "optical_flow_tvl1 of a translation");
}

void errors() {
  bool threw = false;
  try {
    actionkit::temporal_shift(torch::zeros({12, 16, 2, 2}), 8);
  } catch (const c10::Error& e) {
    threw = std::string(e.what()).find("not divisible by num_segments") != std::string::npos;
  }
  check(threw, "bad input raises a c10::Error naming the argument");
}

}  // namespace

int main() {
  std::printf("actionkit %s, CUDA kernels compiled: %s, CUDA available: %s\n",
              actionkit::version().c_str(), actionkit::cuda_compiled() ? "yes" : "no",
              torch::cuda::is_available() ? "yes" : "no");
  temporal_shift();
  tin_shift();
  roi_align3d();
  graph_aggregate();
  bm_sampling();
  suppression();
  soft_suppression();
  preprocessing();
  optical_flow();
  errors();
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
