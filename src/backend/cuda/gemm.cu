/* gemm: the matrix products y = x . W^T (+ bias) (+ y), through cuBLAS.
 *
 * Row-major y[M,N] = x[M,K] . W[N,K]^T is, read column-major, y^T[N,M] = W^T . x^T with W and x used
 * as stored: one GemmEx with (op T, op N), m = N, n = M, k = K, all leading dimensions the row widths.
 * bf16 x bf16 with CUBLAS_COMPUTE_32F runs on the tensor cores with fp32 accumulation (cuBLAS picks its
 * Lt kernels itself); fp32 x fp32 uses plain SGEMM in the default math mode, which does not use TF32,
 * so fp32 test models compute in fp32. A fixed workspace is set so products can be captured in a graph
 * (cuBLAS must not allocate during capture). */
#include "backend/cuda/common.cuh"

#if !HF_HAVE_BLAS
#error "hipBLAS is not installed (hipblas/hipblas.h): the AMD build of the module needs ROCm's hipBLAS"
#endif

static cublasHandle_t handle;
static void *workspace;
enum { WORKSPACE_BYTES = 32 << 20 };

int hfc_gemm_setup(char *err, size_t errcap) {
    if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errcap, "cuBLAS could not be initialised");
        return -1;
    }
    cublasSetStream(handle, hfc_stream);
    if (cudaMalloc(&workspace, WORKSPACE_BYTES) != cudaSuccess ||
        cublasSetWorkspace(handle, workspace, WORKSPACE_BYTES) != CUBLAS_STATUS_SUCCESS) {
        cudaGetLastError();
        snprintf(err, errcap, "cuBLAS workspace (%d MiB) could not be allocated", WORKSPACE_BYTES >> 20);
        cublasDestroy(handle);
        return -1;
    }
    return 0;
}

void hfc_gemm_shutdown(void) {
    cublasDestroy(handle);
    cudaFree(workspace);
    workspace = NULL;
}

void hfc_matmul(float *y, const void *x, const void *w, const float *bias, hfc_dtype dt, int M, int N, int K,
                int accumulate) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    cublasStatus_t st;
    if (dt == HFC_BF16 || dt == HFC_F16)
        st = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, w, dt == HFC_BF16 ? CUDA_R_16BF : CUDA_R_16F, K,
                          x, dt == HFC_BF16 ? CUDA_R_16BF : CUDA_R_16F, K, &beta, y, CUDA_R_32F, N, CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT);
    else
        st = cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, (const float *)w, K, (const float *)x, K,
                         &beta, y, N);
    if (st != CUBLAS_STATUS_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "cuBLAS status %d for M=%d N=%d K=%d", (int)st, M, N, K);
        hfc_note_error("matmul", what);
    }
    if (bias) hfc_bias_add(y, bias, M, N);
}

/* Row-major C[M,N] = alpha op(A) op(B) + beta C is column-major C^T = op(B)^T op(A)^T: swap the operands. */
void hfc_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    cublasStatus_t st = cublasSgemm(handle, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                                    &alpha, B, ldb, A, lda, &beta, C, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "cuBLAS status %d for M=%d N=%d K=%d", (int)st, M, N, K);
        hfc_note_error("gemm", what);
    }
}
