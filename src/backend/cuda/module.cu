/* module: devices, memory, graphs, timers and the exported table of the CUDA backend (see hf_cuda.h). */
#include "backend/cuda/common.cuh"

#include <stdarg.h>
#include <string.h>

cudaStream_t hfc_stream = 0;
cudaError_t hfc_first_error = cudaSuccess;
char hfc_error_where[128];
static char note_msg[256];
static int have_note;

static int initialised = 0;
static int64_t cur_bytes, peak_bytes_held;
static cudaEvent_t timer_ev[8];

static void set_err(char *err, size_t cap, const char *fmt, ...) {
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

void hfc_note_error(const char *op, const char *what) {
    if (have_note) return;
    have_note = 1;
    snprintf(note_msg, sizeof note_msg, "%s: %s", op, what);
}

static int m_device_count(int *n, char *err, size_t cap) {
    int c = 0;
    cudaError_t e = cudaGetDeviceCount(&c);
    if (e == cudaErrorNoDevice) { *n = 0; return 0; }
    if (e != cudaSuccess) {
        int drv = 0;
        cudaDriverGetVersion(&drv);
        if (drv == 0)
            set_err(err, cap, "no GPU driver (%s: %s)", cudaGetErrorName(e), cudaGetErrorString(e));
        else
            set_err(err, cap, "GPU driver %d.%d cannot be used (%s: %s)", drv / 1000, drv % 1000 / 10,
                    cudaGetErrorName(e), cudaGetErrorString(e));
        cudaGetLastError();
        return -1;
    }
    *n = c;
    return 0;
}

static int m_device_info(int dev, hfc_device_info *o, char *err, size_t cap) {
    memset(o, 0, sizeof *o);
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, dev);
    if (e != cudaSuccess) {
        set_err(err, cap, "device %d: %s", dev, cudaGetErrorString(e));
        return -1;
    }
    snprintf(o->name, sizeof o->name, "%s", p.name);
    o->cc_major = p.major;
    o->cc_minor = p.minor;
    o->multiprocessors = p.multiProcessorCount;
    o->mem_total = (int64_t)p.totalGlobalMem;
    o->mem_free = -1;
    cudaDriverGetVersion(&o->driver_version);
    cudaRuntimeGetVersion(&o->runtime_version);
    cudaDeviceGetPCIBusId(o->pci_bus_id, (int)sizeof o->pci_bus_id, dev);
    /* free memory needs a context on that device; make one only when it is the current one or none is */
    int cur = -1;
    if (cudaGetDevice(&cur) == cudaSuccess && (cur == dev || !initialised)) {
        if (cur != dev) cudaSetDevice(dev);
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) o->mem_free = (int64_t)fr;
        if (cur != dev) cudaSetDevice(cur);
    }
    cudaGetLastError();
    return 0;
}

static int m_init(int dev, char *err, size_t cap) {
    if (initialised) { set_err(err, cap, "the CUDA backend is already initialised"); return -1; }
    cudaError_t e = cudaSetDevice(dev);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&hfc_stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        set_err(err, cap, "device %d: %s", dev, cudaGetErrorString(e));
        return -1;
    }
    for (int i = 0; i < 8; i++) cudaEventCreate(&timer_ev[i]);
    if (hfc_gemm_setup(err, cap)) {
        cudaStreamDestroy(hfc_stream);
        hfc_stream = 0;
        return -1;
    }
    hfc_first_error = cudaSuccess;
    have_note = 0;
    cur_bytes = peak_bytes_held = 0;
    initialised = 1;
    return 0;
}

static void m_shutdown(void) {
    if (!initialised) return;
    cudaStreamSynchronize(hfc_stream);
    hfc_gemm_shutdown();
    for (int i = 0; i < 8; i++) cudaEventDestroy(timer_ev[i]);
    cudaStreamDestroy(hfc_stream);
    hfc_stream = 0;
    initialised = 0;
}

/* Each allocation carries its size in a 256-byte header, so peak_bytes counts what we hold. */
enum { HDR = 256 };

static void *m_alloc(size_t bytes, char *err, size_t cap) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes + HDR);
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        set_err(err, cap, "out of GPU memory: %.2f GiB asked for, %.2f GiB free of %.2f GiB", (double)bytes / (1 << 30),
                (double)fr / (1 << 30), (double)tot / (1 << 30));
        return NULL;
    }
    uint64_t sz = bytes;
    cudaMemcpy(p, &sz, sizeof sz, cudaMemcpyHostToDevice);
    cur_bytes += (int64_t)bytes;
    if (cur_bytes > peak_bytes_held) peak_bytes_held = cur_bytes;
    return (char *)p + HDR;
}

static void m_free(void *p) {
    if (!p) return;
    char *base = (char *)p - HDR;
    uint64_t sz = 0;
    cudaStreamSynchronize(hfc_stream);
    if (cudaMemcpy(&sz, base, sizeof sz, cudaMemcpyDeviceToHost) == cudaSuccess) cur_bytes -= (int64_t)sz;
    cudaFree(base);
}

static int m_upload(void *dst, const void *src, size_t n, char *err, size_t cap) {
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, hfc_stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(hfc_stream);
    if (e != cudaSuccess) { set_err(err, cap, "upload of %zu bytes: %s", n, cudaGetErrorString(e)); return -1; }
    return 0;
}

static int m_download(void *dst, const void *src, size_t n, char *err, size_t cap) {
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, hfc_stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(hfc_stream);
    if (e != cudaSuccess) { set_err(err, cap, "download of %zu bytes: %s", n, cudaGetErrorString(e)); return -1; }
    return 0;
}

static void m_copy(void *dst, const void *src, size_t n) {
    cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, hfc_stream);
    hfc_check_launch("copy");
}

static void m_zero(void *p, size_t n) {
    cudaMemsetAsync(p, 0, n, hfc_stream);
    hfc_check_launch("zero");
}

static int m_sync(char *err, size_t cap) {
    cudaError_t e = cudaStreamSynchronize(hfc_stream);
    if (hfc_first_error != cudaSuccess) {
        set_err(err, cap, "%s: %s", hfc_error_where, cudaGetErrorString(hfc_first_error));
        hfc_first_error = cudaSuccess;
        return -1;
    }
    if (have_note) {
        set_err(err, cap, "%s", note_msg);
        have_note = 0;
        return -1;
    }
    if (e != cudaSuccess) { set_err(err, cap, "%s", cudaGetErrorString(e)); return -1; }
    return 0;
}

static int64_t m_peak(void) { return peak_bytes_held; }

struct hfc_graph {
    cudaGraph_t g;
    cudaGraphExec_t x;
};

static int m_graph_begin(char *err, size_t cap) {
    cudaError_t e = cudaStreamBeginCapture(hfc_stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) { set_err(err, cap, "graph capture: %s", cudaGetErrorString(e)); return -1; }
    return 0;
}

static hfc_graph *m_graph_end(char *err, size_t cap) {
    hfc_graph *g = (hfc_graph *)calloc(1, sizeof *g);
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(hfc_stream, &graph);
    if (e == cudaSuccess && hfc_first_error != cudaSuccess) e = hfc_first_error;
    if (e == cudaSuccess && g) e = cudaGraphInstantiate(&g->x, graph, 0);
    if (e != cudaSuccess || !g) {
        set_err(err, cap, "graph capture: %s", g ? cudaGetErrorString(e) : "out of memory");
        if (graph) cudaGraphDestroy(graph);
        free(g);
        hfc_first_error = cudaSuccess;
        cudaGetLastError();
        return NULL;
    }
    g->g = graph;
    return g;
}

static int m_graph_launch(hfc_graph *g, char *err, size_t cap) {
    cudaError_t e = cudaGraphLaunch(g->x, hfc_stream);
    if (e != cudaSuccess) { set_err(err, cap, "graph launch: %s", cudaGetErrorString(e)); return -1; }
    return 0;
}

static void m_graph_free(hfc_graph *g) {
    if (!g) return;
    cudaGraphExecDestroy(g->x);
    cudaGraphDestroy(g->g);
    free(g);
}

static int m_timer_mark(int i) {
    if (i < 0 || i >= 8) return -1;
    return cudaEventRecord(timer_ev[i], hfc_stream) == cudaSuccess ? 0 : -1;
}

static double m_timer_seconds(int a, int b) {
    float ms = 0;
    if (a < 0 || a >= 8 || b < 0 || b >= 8) return -1;
    if (cudaEventElapsedTime(&ms, timer_ev[a], timer_ev[b]) != cudaSuccess) { cudaGetLastError(); return -1; }
    return ms / 1000.0;
}

#define HF_STR2(x) #x
#define HF_STR(x) HF_STR2(x)
#ifdef HF_HIP
#define HF_BUILD "HIP " HF_STR(HIP_VERSION_MAJOR) "." HF_STR(HIP_VERSION_MINOR)
#else
#define HF_BUILD "CUDA " HF_STR(__CUDACC_VER_MAJOR__) "." HF_STR(__CUDACC_VER_MINOR__) ", " HF_CUDA_ARCHS
#endif
#ifndef HF_CUDA_ARCHS
#define HF_CUDA_ARCHS "archs unknown"
#endif

static const hfc_api api = {
    HFC_ABI_VERSION,
    HF_BUILD,
    m_device_count,
    m_device_info,
    m_init,
    m_shutdown,
    m_alloc,
    m_free,
    m_upload,
    m_download,
    m_copy,
    m_zero,
    m_sync,
    m_peak,
    hfc_embed,
    hfc_rmsnorm,
    hfc_matmul,
    hfc_bias_add,
    hfc_residual_add,
    hfc_rope,
    hfc_silu_gate,
    hfc_silu_mul,
    hfc_kv_store,
    hfc_kv_fork,
    hfc_attn_prefill,
    hfc_attn_decode,
    hfc_sample,
    hfc_gather_rows,
    hfc_advance,
    hfc_fill_normal,
    hfc_fill_const,
    m_graph_begin,
    m_graph_end,
    m_graph_launch,
    m_graph_free,
    m_timer_mark,
    m_timer_seconds,
};

extern "C" __attribute__((visibility("default"))) const hfc_api *hf_cuda_module(int abi_version) {
    return abi_version == HFC_ABI_VERSION ? &api : NULL;
}
extern "C" __attribute__((visibility("default"))) int hf_cuda_module_abi(void) { return HFC_ABI_VERSION; }
