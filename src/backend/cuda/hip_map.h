/* hip_map: the one place where the CUDA sources meet HIP. Compiled by nvcc it includes the CUDA headers;
 * compiled by hipcc (HF_HIP defined, or __HIPCC__) it includes HIP's and maps every cuda* / cublas* name the
 * module uses to its hip* / hipblas* twin, so an AMD build needs no second copy of the kernels.
 *
 * What has no twin on ROCm 5.x (Debian's): cuBLASLt. The module then uses cublasGemmEx (mapped to
 * hipblasGemmEx) for every product; HF_HAVE_CUBLASLT says whether Lt is there. Keep this list to the names
 * the module actually calls: an unmapped name is a compile error on HIP, which is what we want. */
#ifndef HF_HIP_MAP_H
#define HF_HIP_MAP_H

#if defined(HF_HIP) || defined(__HIPCC__)
#ifndef HF_HIP
#define HF_HIP 1
#endif
#include <hip/hip_runtime.h>
#define HF_HAVE_CUBLASLT 0
#define HF_GPU_API "HIP"
/* Warp-level primitives: the kernels work in groups of 32 lanes (lane = threadIdx.x & 31). On a 64-wide AMD
 * wavefront a width of 32 makes each half a group of its own, so the same code is right on wave32 and wave64;
 * HIP's shuffles take no mask (every lane of the group takes part, as in all our uses). */
#define __shfl_xor_sync(mask, v, o) __shfl_xor((v), (o), 32)
#define __shfl_sync(mask, v, src) __shfl((v), (src), 32)
#define __shfl_up_sync(mask, v, o) __shfl_up((v), (o), 32)
/* runtime */
#define cudaError_t hipError_t
#define cudaSuccess hipSuccess
#define cudaErrorNoDevice hipErrorNoDevice
#define cudaErrorInsufficientDriver hipErrorInsufficientDriver
#define cudaGetErrorString hipGetErrorString
#define cudaGetErrorName hipGetErrorName
#define cudaGetLastError hipGetLastError
#define cudaGetDeviceCount hipGetDeviceCount
#define cudaSetDevice hipSetDevice
#define cudaGetDevice hipGetDevice
#define cudaGetDeviceProperties hipGetDeviceProperties
#define cudaDeviceProp hipDeviceProp_t
#define cudaDeviceGetPCIBusId hipDeviceGetPCIBusId
#define cudaDriverGetVersion hipDriverGetVersion
#define cudaRuntimeGetVersion hipRuntimeGetVersion
#define cudaMemGetInfo hipMemGetInfo
#define cudaMalloc hipMalloc
#define cudaFree hipFree
#define cudaMemcpy hipMemcpy
#define cudaMemcpyAsync hipMemcpyAsync
#define cudaMemsetAsync hipMemsetAsync
#define cudaMemcpyHostToDevice hipMemcpyHostToDevice
#define cudaMemcpyDeviceToHost hipMemcpyDeviceToHost
#define cudaMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define cudaStream_t hipStream_t
#define cudaStreamCreateWithFlags hipStreamCreateWithFlags
#define cudaStreamNonBlocking hipStreamNonBlocking
#define cudaStreamDestroy hipStreamDestroy
#define cudaStreamSynchronize hipStreamSynchronize
#define cudaStreamBeginCapture hipStreamBeginCapture
#define cudaStreamEndCapture hipStreamEndCapture
#define cudaStreamCaptureModeThreadLocal hipStreamCaptureModeThreadLocal
#define cudaGraph_t hipGraph_t
#define cudaGraphExec_t hipGraphExec_t
#define cudaGraphInstantiate(e, g, f) hipGraphInstantiate(e, g, NULL, NULL, 0)
#define cudaGraphLaunch hipGraphLaunch
#define cudaGraphExecDestroy hipGraphExecDestroy
#define cudaGraphDestroy hipGraphDestroy
#define cudaEvent_t hipEvent_t
#define cudaEventCreate hipEventCreate
#define cudaEventDestroy hipEventDestroy
#define cudaEventRecord hipEventRecord
#define cudaEventElapsedTime hipEventElapsedTime
#define cudaFuncSetAttribute hipFuncSetAttribute
#define cudaFuncAttributeMaxDynamicSharedMemorySize hipFuncAttributeMaxDynamicSharedMemorySize
/* BLAS: only gemm.cu uses it. Debian 12 ships HIP's runtime headers but neither hipBLAS nor rocBLAS, so there
 * the other files still compile (a check of the kernels) and gemm.cu stops with a message. */
#if __has_include(<hipblas/hipblas.h>)
#include <hipblas/hipblas.h>
#define HF_HAVE_BLAS 1
#else
#define HF_HAVE_BLAS 0
#endif
#define cublasHandle_t hipblasHandle_t
#define cublasStatus_t hipblasStatus_t
#define CUBLAS_STATUS_SUCCESS HIPBLAS_STATUS_SUCCESS
#define cublasCreate hipblasCreate
#define cublasDestroy hipblasDestroy
#define cublasSetStream hipblasSetStream
#define cublasSetWorkspace(h, p, n) HIPBLAS_STATUS_SUCCESS
#define cublasGemmEx hipblasGemmEx
#define cublasSgemm hipblasSgemm
#define CUBLAS_OP_N HIPBLAS_OP_N
#define CUBLAS_OP_T HIPBLAS_OP_T
#define CUBLAS_GEMM_DEFAULT HIPBLAS_GEMM_DEFAULT
#define CUDA_R_16BF HIPBLAS_R_16B
#define CUDA_R_32F HIPBLAS_R_32F
#define CUBLAS_COMPUTE_32F HIPBLAS_R_32F
#else
#define HF_HAVE_BLAS 1
#include <cublas_v2.h>
#include <cublasLt.h>
#include <cuda_runtime.h>
#define HF_HAVE_CUBLASLT 1
#define HF_GPU_API "CUDA"
#endif

#endif
