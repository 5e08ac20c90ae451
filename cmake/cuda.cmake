# The CUDA backend: src/backend/cuda/*.cu -> libhf-cuda.so next to the program (and in lib/halo-forge when
# installed). halo-forge never links CUDA: src/backend/bk_device.c loads the module with dlopen when a GPU is
# asked for, so one binary runs with and without CUDA.
#
# HF_CUDA: ON (fail without nvcc), OFF, or unset = ON when an nvcc is found (on PATH, in CUDACXX, or
# /usr/local/cuda/bin), OFF otherwise. HF_CUDA_ARCHS: the GPU architectures (default 80 and 90 machine code
# plus compute_90 PTX for newer GPUs; kept short because every architecture multiplies compile time).
set(HF_CUDA_ARCHS "80-real;90" CACHE STRING "CUDA architectures of the GPU module")

if(NOT DEFINED HF_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    find_program(_hf_nvcc nvcc)
    if(NOT _hf_nvcc)
      set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER AND EXISTS "${CMAKE_CUDA_COMPILER}")
    set(HF_CUDA ON CACHE BOOL "Build the CUDA backend module")
    message(STATUS "HF_CUDA: ON (nvcc found: ${CMAKE_CUDA_COMPILER}); the GPU module libhf-cuda.so is built")
  else()
    set(HF_CUDA OFF CACHE BOOL "Build the CUDA backend module")
    message(STATUS "HF_CUDA: OFF (no nvcc found on PATH, in CUDACXX or /usr/local/cuda/bin); "
                   "halo-forge runs on the CPU only. Install the CUDA toolkit and pass -DHF_CUDA=ON for GPUs")
  endif()
elseif(HF_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "HF_CUDA=ON but no CUDA compiler (nvcc) was found: install the CUDA toolkit, "
                        "put nvcc on PATH or set CUDACXX, or configure with -DHF_CUDA=OFF")
  endif()
  message(STATUS "HF_CUDA: ON (${CMAKE_CUDA_COMPILER})")
else()
  message(STATUS "HF_CUDA: OFF (as asked); halo-forge runs on the CPU only")
endif()

if(HF_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES ${HF_CUDA_ARCHS})
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  file(GLOB HF_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/backend/cuda/*.cu)
  add_library(hf-cuda MODULE ${HF_CUDA_SOURCES})
  string(REPLACE ";" " " _hf_archs "${CMAKE_CUDA_ARCHITECTURES}")
  target_compile_definitions(hf-cuda PRIVATE HF_CUDA_ARCHS="archs ${_hf_archs}")
  target_include_directories(hf-cuda PRIVATE ${CMAKE_SOURCE_DIR}/src)
  # Host code of the module: the project's warnings (as errors with HF_WERROR), through nvcc.
  target_compile_options(hf-cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fvisibility=hidden>)
  if(HF_WERROR)
    target_compile_options(hf-cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Werror>)
  endif()
  target_link_libraries(hf-cuda PRIVATE CUDA::cudart CUDA::cublas)
  set_target_properties(hf-cuda PROPERTIES OUTPUT_NAME hf-cuda PREFIX lib
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    CUDA_VISIBILITY_PRESET hidden
    # found next to the toolkit it was built with, without LD_LIBRARY_PATH
    BUILD_RPATH "${CUDAToolkit_LIBRARY_DIR}" INSTALL_RPATH "${CUDAToolkit_LIBRARY_DIR}")
  add_dependencies(halo-forge hf-cuda)
  install(TARGETS hf-cuda LIBRARY DESTINATION lib/halo-forge)
endif()

# Tests that need a GPU exit 77 when none is usable (module not built, no driver, no device): CTest then
# reports them as skipped, never as passed.
function(hf_cuda_tests)
  foreach(t test_cuda_ops test_cuda_train cli_device_gpu)
    if(TEST ${t})
      set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu)
      if(TARGET hf-cuda AND TARGET ${t})
        add_dependencies(${t} hf-cuda)
      endif()
    endif()
  endforeach()
endfunction()
