// What this copy of libactionkit was built with.
#pragma once

#include <string>

namespace actionkit {

// The library's version, e.g. "0.1.0".
std::string version();
// Whether the CUDA kernels were compiled into the library.
bool cuda_compiled();
// The CUDA architectures compiled for, e.g. "8.0;9.0"; empty without CUDA.
std::string cuda_archs();
// The CUDA toolkit version compiled with, e.g. "13.0"; empty without CUDA.
std::string cuda_version();
// The PyTorch version the library was built against.
std::string torch_version();

}  // namespace actionkit
