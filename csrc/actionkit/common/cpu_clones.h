// Runtime-dispatched ISA clones for hot CPU loops. The library is compiled for
// baseline x86-64 (SSE2) so it runs everywhere; functions marked AK_CPU_CLONES
// are also compiled for x86-64-v3 (AVX2+FMA) and the best one is picked at load
// time. Helpers they call must be inlined (AK_ALWAYS_INLINE) to benefit.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(AK_CUDA_EMULATION)
#define AK_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define AK_CPU_CLONES
#endif

#if defined(__GNUC__)
#define AK_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define AK_ALWAYS_INLINE inline
#endif
