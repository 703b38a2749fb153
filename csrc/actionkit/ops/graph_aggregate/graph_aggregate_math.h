// Per-element math of graph aggregation (the GCN step of ST-GCN/AGCN), shared
// by the CPU and CUDA kernels: out[n,c,t,w] = sum_k sum_v x[n,k,c,t,v] A[k,v,w].
#pragma once

#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::graph_aggregate {

// x [N, K, R, V] with R = C*T rows per sample; A [N or 1, K, V, V]; out [N, R, V].
struct Dims {
  int64_t batches, subsets, rows, joints;
  bool per_sample;  // A holds one graph per sample
};

// sum_{i < outer} sum_{j < inner} p[i*ps + j*pj] * q[i*qs + j*qj]: every output
// and input gradient of the op is one such sum; the backends differ only in
// the pointers and strides they pass (e.g. the CPU reads a transposed A so the
// inner loop is contiguous on both sides).
template <typename acc_t, typename scalar_t>
AK_HD inline acc_t dot(const scalar_t* p, int64_t ps, int64_t pj, const scalar_t* q, int64_t qs,
                       int64_t qj, int64_t outer, int64_t inner) {
  acc_t sum = acc_t(0);
  for (int64_t i = 0; i < outer; ++i) {
    const scalar_t* pi = p + i * ps;
    const scalar_t* qi = q + i * qs;
    for (int64_t j = 0; j < inner; ++j) {
      sum += detail::to_acc<acc_t>(pi[j * pj]) * detail::to_acc<acc_t>(qi[j * qj]);
    }
  }
  return sum;
}

// out[n, r, w] = sum_k sum_v x[n, k, r, v] A[k, v, w]; `a` points at the graph
// of sample n, with strides (a_k, a_v) of its (k, v) axes at column w.
template <typename acc_t, typename scalar_t>
AK_HD inline acc_t aggregate(const Dims& d, const scalar_t* x, const scalar_t* a_col, int64_t a_k,
                             int64_t a_v, int64_t n, int64_t r) {
  const scalar_t* x_row = x + (n * d.subsets * d.rows + r) * d.joints;
  return dot<acc_t>(x_row, d.rows * d.joints, 1, a_col, a_k, a_v, d.subsets, d.joints);
}

// d out / d x[n, k, r, v] = sum_w grad[n, r, w] A[k, v, w]; `a_row` points at A[k, v, 0].
template <typename acc_t, typename scalar_t>
AK_HD inline acc_t grad_x(const Dims& d, const scalar_t* grad, const scalar_t* a_row, int64_t n,
                          int64_t r) {
  return dot<acc_t>(grad + (n * d.rows + r) * d.joints, 0, 1, a_row, 0, 1, 1, d.joints);
}

}  // namespace actionkit::kernels::graph_aggregate
