# Finding PyTorch (and, for its CUDA builds, the CUDA toolkit) the way that
# works on machines with a minimal CUDA toolkit and no GPU. Used by actionkit's
# own build and by actionkitConfig.cmake for C++ consumers.

# Locates TorchConfig.cmake in Torch_DIR, CMAKE_PREFIX_PATH or the Python
# environment's torch package.
function(_actionkit_torch_dir out)
  if(Torch_DIR)
    set(${out} "${Torch_DIR}" PARENT_SCOPE)
    return()
  endif()
  find_path(_ak_torch_dir TorchConfig.cmake
            HINTS ${CMAKE_PREFIX_PATH} $ENV{CMAKE_PREFIX_PATH}
            PATH_SUFFIXES Torch share/cmake/Torch NO_DEFAULT_PATH)
  if(NOT _ak_torch_dir)
    find_program(_ak_python NAMES python3 python)
    if(_ak_python)
      execute_process(COMMAND "${_ak_python}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                      OUTPUT_VARIABLE _ak_prefix OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(_ak_prefix)
        set(_ak_torch_dir "${_ak_prefix}/Torch")
      endif()
    endif()
  endif()
  set(${out} "${_ak_torch_dir}" PARENT_SCOPE)
endfunction()

# find_package(Torch) with the toolchain facts of BUILD-NOTES.md applied first:
# the real nvcc rather than a wrapper on PATH, an explicit CUDA architecture
# list (CUDA 13 has no sm_50..sm_72), C++20 for nvcc, and NVRTC from the
# nvidia wheels when the toolkit has none. Sets ACTIONKIT_CUDA_ARCHS.
macro(actionkit_find_torch)
  _actionkit_torch_dir(_ak_torch_cfg)
  if(_ak_torch_cfg)
    set(Torch_DIR "${_ak_torch_cfg}" CACHE PATH "Folder holding TorchConfig.cmake")
  endif()

  if(NOT CMAKE_CUDA_COMPILER)
    if(DEFINED ENV{CUDA_HOME} AND EXISTS "$ENV{CUDA_HOME}/bin/nvcc")
      set(_ak_cuda_root "$ENV{CUDA_HOME}")
    elseif(EXISTS "/usr/local/cuda/bin/nvcc")
      set(_ak_cuda_root "/usr/local/cuda")
    endif()
    if(_ak_cuda_root)
      set(CMAKE_CUDA_COMPILER "${_ak_cuda_root}/bin/nvcc" CACHE FILEPATH "nvcc")
      set(CUDA_TOOLKIT_ROOT_DIR "${_ak_cuda_root}" CACHE PATH "CUDA toolkit")
      set(CUDAToolkit_ROOT "${_ak_cuda_root}")
    endif()
  endif()
  # torch reads the architecture list from the environment, not from
  # CMAKE_CUDA_ARCHITECTURES.
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST} OR "$ENV{TORCH_CUDA_ARCH_LIST}" STREQUAL "")
    set(ENV{TORCH_CUDA_ARCH_LIST} "7.5;8.0;8.6;8.9;9.0")
  endif()
  set(ACTIONKIT_CUDA_ARCHS "$ENV{TORCH_CUDA_ARCH_LIST}")
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  if(NOT CUDA_nvrtc_LIBRARY AND _ak_torch_cfg)
    file(GLOB _ak_nvrtc "${_ak_torch_cfg}/../../../../nvidia/cu*/lib/libnvrtc.so.*"
                        "${_ak_torch_cfg}/../../../../nvidia/cuda_nvrtc/lib/libnvrtc.so.*")
    list(FILTER _ak_nvrtc EXCLUDE REGEX "builtins")
    if(_ak_nvrtc)
      list(GET _ak_nvrtc 0 _ak_nvrtc)
      get_filename_component(_ak_nvrtc "${_ak_nvrtc}" REALPATH)
      set(CUDA_nvrtc_LIBRARY "${_ak_nvrtc}" CACHE FILEPATH "NVRTC from the nvidia wheel")
    endif()
  endif()
  find_package(Torch REQUIRED CONFIG)
  get_filename_component(ACTIONKIT_TORCH_LIBDIR "${TORCH_INSTALL_PREFIX}/lib" REALPATH)
endmacro()

# Run-time search path of an installed target: next to torch in a Python
# environment (relative, so a moved environment still works), the torch and
# CUDA wheel libraries of the build, and `extra` (e.g. "$ORIGIN").
function(actionkit_set_rpath target extra)
  set(_rpath "$ORIGIN/../../torch/lib" "$ORIGIN/../torch/lib" "$ORIGIN/../../nvidia/cu13/lib"
             "${ACTIONKIT_TORCH_LIBDIR}")
  if(extra)
    list(PREPEND _rpath "${extra}")
  endif()
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "${_rpath}")
endfunction()
