// Soft-NMS for boxes (mmcv's semantics) and for temporal proposals (MMAction2's
// localization semantics), each written once as a sequential routine over raw
// arrays: the CPU kernel calls it directly and the CUDA kernel runs it on the
// device, so results agree bit for bit in the same precision.
#pragma once

#include <cmath>
#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::soft_nms {

enum Method : int64_t { kNaive = 0, kLinear = 1, kGaussian = 2 };

using detail::max_of;
using detail::min_of;

// The decay of box (x1, y1, x2, y2, area) by its IoU o with the box taken
// (bx1..barea): the weight its score is multiplied by, as in soft_nms below.
// One expression for the CPU loop and the CUDA threads: equal to the last bit.
template <typename T>
AK_HD inline T box_weight(T x1, T y1, T x2, T y2, T area, T bx1, T by1, T bx2, T by2, T barea,
                          T threshold, T sigma, int64_t method, T offset) {
  const T w = max_of(T(0), min_of(bx2, x2) - max_of(bx1, x1) + offset);
  const T h = max_of(T(0), min_of(by2, y2) - max_of(by1, y1) + offset);
  const T inter = w * h;
  const T overlap = inter / (barea + area - inter);
  if (method == kNaive) return overlap >= threshold ? T(0) : T(1);
  if (method == kLinear) return overlap >= threshold ? T(1) - overlap : T(1);
  return exp(-(overlap * overlap) / sigma);
}

// Decays boxes [begin, end) by their IoU with the box taken (box_weight). No
// removals here, so that the compiler can vectorise the loop (the arrays do
// not overlap).
template <typename T>
AK_HD inline void decay_boxes(const T* __restrict__ x1, const T* __restrict__ y1,
                              const T* __restrict__ x2, const T* __restrict__ y2,
                              const T* __restrict__ area, T* __restrict__ score, int64_t begin,
                              int64_t end, T bx1, T by1, T bx2, T by2, T barea, T threshold,
                              T sigma, int64_t method, T offset) {
  for (int64_t k = begin; k < end; ++k) {
    score[k] *= box_weight(x1[k], y1[k], x2[k], y2[k], area[k], bx1, by1, bx2, by2, barea,
                           threshold, sigma, method, offset);
  }
}

// The area of a box, with `offset` added to each side.
template <typename T>
AK_HD inline T box_area(T x1, T y1, T x2, T y2, T offset) {
  return (x2 - x1 + offset) * (y2 - y1 + offset);
}

// Takes box `best` to position i (swapping, as soft_nms does) and writes its
// detection; returns nothing, the caller decays the rest.
template <typename T>
AK_HD inline void take_box(T* x1, T* y1, T* x2, T* y2, T* score, T* area, int64_t* inds, T* dets,
                           int64_t i, int64_t best) {
  const T bx1 = x1[best], by1 = y1[best], bx2 = x2[best], by2 = y2[best];
  const T barea = area[best], bscore = score[best];
  const int64_t bind = inds[best];
  x1[best] = x1[i], y1[best] = y1[i], x2[best] = x2[i], y2[best] = y2[i];
  score[best] = score[i], area[best] = area[i], inds[best] = inds[i];
  x1[i] = bx1, y1[i] = by1, x2[i] = bx2, y2[i] = by2;
  score[i] = bscore, area[i] = barea, inds[i] = bind;
  dets[i * 5 + 0] = bx1, dets[i * 5 + 1] = by1, dets[i * 5 + 2] = bx2, dets[i * 5 + 3] = by2;
  dets[i * 5 + 4] = bscore;
}

// Removes the boxes of [begin, n) whose score fell below min_score, each by
// moving the last box into its place (checked in turn); returns the new n.
template <typename T>
AK_HD inline int64_t remove_low(T* x1, T* y1, T* x2, T* y2, T* score, T* area, int64_t* inds,
                                int64_t begin, int64_t n, T min_score) {
  for (int64_t k = begin; k < n;) {
    if (score[k] < min_score) {
      const int64_t last = n - 1;
      x1[k] = x1[last], y1[k] = y1[last], x2[k] = x2[last], y2[k] = y2[last];
      score[k] = score[last], area[k] = area[last], inds[k] = inds[last];
      n -= 1;
      continue;
    }
    ++k;
  }
  return n;
}

// The decay of segment (start, end) by its IoU o with the one taken (bstart,
// bend): exp(-o^2 / alpha) when o exceeds bar, else 1 (temporal_soft_nms).
template <typename T>
AK_HD inline T segment_weight(T start, T end, T bstart, T bend, T bar, T alpha, bool& decayed) {
  const T inter = max_of(T(0), min_of(bend, end) - max_of(bstart, start));
  const T overlap = inter / ((bend - bstart) - inter + (end - start));
  decayed = overlap > bar;
  return decayed ? exp(-(overlap * overlap) / alpha) : T(1);
}

// Soft-NMS of n boxes with mmcv's semantics. At step i the highest remaining
// score (the first one on ties, in the current arrangement) is swapped to
// position i and written to dets[i] = (x1, y1, x2, y2, score); every later box
// is decayed by its IoU o with it (areas with `offset` added to each side):
// naive: 0 if o >= threshold; linear: 1 - o if o >= threshold; gaussian:
// exp(-o^2 / sigma). A box whose score falls below min_score is removed by
// moving the last box into its place (which is then decayed in turn). Works in
// place on the arrays; inds must hold 0..n-1; returns the number kept, and
// inds[0..kept) are their original indices in output order.
//
// mmcv decays and removes in one loop. Here all boxes are decayed first (a box
// is decayed once either way, by the same product), then the removals are made
// in the same order with the same moves, which is the same arrangement; that
// pass also finds the next maximum, in the order of the final arrangement.
template <typename T>
AK_HD inline int64_t soft_nms(T* x1, T* y1, T* x2, T* y2, T* score, T* area, int64_t* inds, T* dets,
                              int64_t n, T threshold, T sigma, T min_score, int64_t method,
                              T offset) {
  for (int64_t k = 0; k < n; ++k) area[k] = box_area(x1[k], y1[k], x2[k], y2[k], offset);
  // The running maximum is kept in a register: comparing with score[best]
  // instead chains every step through a load.
  int64_t best = 0;
  T bscore = n > 0 ? score[0] : T(0);
  for (int64_t k = 1; k < n; ++k) {
    if (bscore < score[k]) bscore = score[k], best = k;
  }
  for (int64_t i = 0; i < n; ++i) {
    take_box(x1, y1, x2, y2, score, area, inds, dets, i, best);
    decay_boxes(x1, y1, x2, y2, area, score, i + 1, n, x1[i], y1[i], x2[i], y2[i], area[i],
                threshold, sigma, method, offset);
    // remove_low's moves with the next maximum found on the way (a thread block
    // does them apart: soft_nms_cuda.cu)
    best = -1;
    for (int64_t k = i + 1; k < n;) {
      if (score[k] < min_score) {
        const int64_t last = n - 1;
        x1[k] = x1[last], y1[k] = y1[last], x2[k] = x2[last], y2[k] = y2[last];
        score[k] = score[last], area[k] = area[last], inds[k] = inds[last];
        n -= 1;  // the box moved here is checked next
        continue;
      }
      if (best < 0 || bscore < score[k]) bscore = score[k], best = k;
      ++k;
    }
  }
  return n;
}

// Soft-NMS of temporal proposals with MMAction2's localization semantics
// (proposal_utils.soft_nms): the arrays hold the n proposals sorted by
// decreasing score. Repeatedly the highest remaining score (first on ties) is
// taken out, in order, to dets = (start, end, score) and keep; every other
// proposal whose IoU o with it exceeds low + (high - low) * width (width of the
// one taken) is decayed by exp(-o^2 / alpha). Stops after `limit` proposals.
// Returns the number taken.
template <typename T>
AK_HD inline int64_t temporal_soft_nms(T* start, T* end, T* score, int64_t* inds, T* dets,
                                       int64_t* keep, int64_t n, T alpha, T low, T high,
                                       int64_t limit) {
  int64_t taken = 0;
  while (n > 0 && taken < limit) {
    int64_t best = 0;
    T top = score[0];
    for (int64_t k = 1; k < n; ++k) {
      if (score[k] > top) top = score[k], best = k;
    }
    const T bstart = start[best], bend = end[best];
    const T bar = low + (high - low) * (bend - bstart);
    for (int64_t k = 0; k < n; ++k) {
      if (k == best) continue;
      bool decayed;
      const T weight = segment_weight(start[k], end[k], bstart, bend, bar, alpha, decayed);
      if (decayed) score[k] *= weight;
    }
    dets[taken * 3 + 0] = bstart, dets[taken * 3 + 1] = bend, dets[taken * 3 + 2] = score[best];
    keep[taken] = inds[best];
    ++taken;
    for (int64_t k = best; k + 1 < n; ++k) {  // remove, keeping the order
      start[k] = start[k + 1], end[k] = end[k + 1], score[k] = score[k + 1];
      inds[k] = inds[k + 1];
    }
    --n;
  }
  return taken;
}

}  // namespace actionkit::kernels::soft_nms
