// Large CPU outputs in transparent huge pages.
//
// Under glibc's default allocator every tensor above 32 MiB is a fresh mapping
// whose 4 KiB pages fault on first touch; for an op that only moves data (a
// shift, a sampling layer writing a 1 GB map) those faults cost more than the
// arithmetic. Advising the new block as huge-page memory (what PyTorch does for
// every allocation under THP_MEM_ALLOC_ENABLE=1) makes one fault per 2 MiB.
// The advice is a hint: where transparent huge pages are off, or the call
// fails, nothing changes. ACTIONKIT_HUGE_PAGES=0 turns it off.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace actionkit::kernels {

inline bool huge_pages_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("ACTIONKIT_HUGE_PAGES");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  return enabled;
}

// Advises the whole 2 MiB pages inside `t`'s bytes as huge-page memory; only
// for blocks of at least 32 MiB (glibc maps those fresh, so the advice lands on
// memory not yet touched) and before the caller writes them.
inline void advise_huge_pages(const at::Tensor& t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t{1} << 21;
  const std::size_t bytes = t.nbytes();
  if (bytes < (std::size_t{32} << 20) || !t.is_cpu() || !huge_pages_enabled()) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(t.const_data_ptr());
  const std::uintptr_t lo = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t hi = (begin + bytes) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#else
  (void)t;
#endif
}

// at::empty for an output the kernel is about to write in full.
inline at::Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& options) {
  at::Tensor out = at::empty(sizes, options);
  advise_huge_pages(out);
  return out;
}

}  // namespace actionkit::kernels
