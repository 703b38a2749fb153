// The CUDA launcher of the fused preprocessing. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include "../../common/cuda_dtype.h"
#include "preprocess_math.h"

namespace actionkit::kernels::preprocess::cuda {

// frames: contiguous uint8 [B, T, H, W, C]; boxes: float [B, 4]; flip: bool [B];
// mean / inv_std: `channels` floats each, on the device; out: `dtype` in the layout of d.
void launch(actionkit::cuda::DType dtype, const uint8_t* frames, const float* boxes,
            const bool* flip, const float* mean, const float* inv_std, void* out, const Dims& d,
            void* stream);

}  // namespace actionkit::kernels::preprocess::cuda
