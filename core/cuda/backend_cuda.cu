/* CUDA backend: the backend table on an NVIDIA GPU. cuBLAS does the GEMMs
 * (row-major through the transpose identity of gemm_map.h), and every custom
 * kernel is a grid-stride loop over the very body the CPU backend runs
 * (core/kernels, CB_HD), so the CPU tests check the arithmetic the GPU runs.
 * This file is compiled with --fmad=false: without contraction the bodies'
 * float and double operations round exactly as on the CPU (IEEE division and
 * sqrt are nvcc's defaults), leaving only exp/log/cos (a few ulp in double)
 * and cuBLAS's summation order as differences (tests/cuda state the bounds).
 *
 * Everything is issued on the legacy default stream, so operations run in the
 * order they are called, as on the CPU. upload returns once the host buffer
 * may be reused and download once the data are on the host, so callers need
 * no synchronisation of their own.
 *
 * Errors: every CUDA, cuBLAS and launch result is checked. The table's
 * operations return nothing, so the first failure is recorded (status() and
 * cb_error report it) and every later operation is skipped; out-of-memory in
 * alloc is not sticky and returns NULL with a message naming the buffer. */
#include "core/cuda/gemm_map.h"
#include "core/cuda/grid.h"
#include "core/kernels/kernels.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "core/backend/backend.h"
#include "core/base/error.h"
}
#include "core/cuda/diag.h"
#include "core/cuda/mem_table.h"

namespace {

struct cuda_state {
  int probed, present; /* device count asked; a device is there */
  int inited, ready;   /* backend initialised; successfully */
  int failed;          /* sticky: a device operation failed */
  int sync_launches;   /* CLIPBENCH_CUDA_SYNC=1: check each kernel at once */
  unsigned max_blocks; /* grid cap: a few waves of the device */
  cublasHandle_t blas;
  cb_mem_table mem;
  char why[CB_ERRMSG_MAX];   /* why the device is unavailable */
  char first[CB_ERRMSG_MAX]; /* the first failure */
  cb_backend table;
};

cuda_state g;
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

#define CB_KNAME(name) #name,
const char *const KERNEL_NAMES[] = {CB_KERNEL_LIST(CB_KNAME)};
#undef CB_KNAME

/* Records the first failure (later ones are consequences) and reports it. */
void fail(const char *fmt, ...) {
  if (!g.failed) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g.first, sizeof g.first, fmt, ap);
    va_end(ap);
    g.failed = 1;
  }
  cb_error("%s", g.first);
}

int check(cudaError_t e, const char *call, const char *context, int line) {
  if (e == cudaSuccess) return 0;
  fail("CUDA error in %s (%s; core/cuda/backend_cuda.cu:%d): %s (%s)%s", call, context, line,
       cudaGetErrorString(e), cudaGetErrorName(e),
       g.sync_launches ? ""
                       : "; kernel faults surface at the next copy: rerun with "
                         "CLIPBENCH_CUDA_SYNC=1 to name the kernel");
  return -1;
}

int check_blas(cublasStatus_t s, const char *call, const char *context, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return 0;
  fail("cuBLAS error in %s (%s; core/cuda/backend_cuda.cu:%d): %s (%s)", call, context, line,
       cublasGetStatusString(s), cublasGetStatusName(s));
  return -1;
}

#define CU_CHECK(call, context) check((call), #call, (context), __LINE__)
#define BLAS_CHECK(call, context) check_blas((call), #call, (context), __LINE__)

/* ---- kernels: one grid-stride loop per entry of CB_KERNEL_LIST ---- */

#define CB_CUDA_KERNEL(name)                                                                 \
  __global__ void cb_cuda_##name(int64_t n, const cb_k_##name a) {                           \
    const int64_t stride = cb_grid_stride(blockDim.x, gridDim.x);                            \
    for (int64_t i = cb_grid_first(blockIdx.x, threadIdx.x, blockDim.x); i < n; i += stride) \
      cb_kb_##name(i, &a);                                                                   \
  }
CB_KERNEL_LIST(CB_CUDA_KERNEL)
#undef CB_CUDA_KERNEL

void cuda_launch(const cb_backend *be, cb_kernel_id id, int64_t n, const void *args) {
  (void)be;
  if (g.failed || n <= 0) return;
  if ((unsigned)id >= CB_KID_COUNT) {
    fail("internal: launch of unknown kernel id %d", (int)id);
    return;
  }
  unsigned blocks = cb_grid_blocks(n, CB_CUDA_BLOCK, g.max_blocks);
  switch (id) {
#define CB_CUDA_CASE(name)                                                    \
  case CB_KID_##name:                                                         \
    cb_cuda_##name<<<blocks, CB_CUDA_BLOCK>>>(n, *(const cb_k_##name *)args); \
    break;
    CB_KERNEL_LIST(CB_CUDA_CASE)
#undef CB_CUDA_CASE
  default: break;
  }
  char ctx[160];
  snprintf(ctx, sizeof ctx, "kernel %s over %lld indices, %u blocks of %d", KERNEL_NAMES[id],
           (long long)n, blocks, CB_CUDA_BLOCK);
  if (CU_CHECK(cudaGetLastError(), ctx)) return;
  if (g.sync_launches) CU_CHECK(cudaDeviceSynchronize(), ctx);
}

/* ---- memory ---- */

void *cuda_alloc(const cb_backend *be, size_t bytes, const char *what) {
  (void)be;
  if (g.failed) {
    cb_error("%s", g.first);
    return NULL;
  }
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError(); /* not sticky: the context stays usable */
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
    char msg[CB_ERRMSG_MAX];
    pthread_mutex_lock(&g_lock);
    size_t held = g.mem.in_use;
    pthread_mutex_unlock(&g_lock);
    cb_cuda_oom_message(msg, sizeof msg, what, bytes, free_b, total_b, held);
    cb_error("%s", msg);
    return NULL;
  }
  char ctx[160];
  snprintf(ctx, sizeof ctx, "allocating %.1f MiB for %s", bytes / 1048576.0, what ? what : "?");
  if (CU_CHECK(e, ctx)) return NULL;
  pthread_mutex_lock(&g_lock);
  int rc = cb_mem_table_add(&g.mem, p, bytes);
  pthread_mutex_unlock(&g_lock);
  if (rc) {
    (void)cudaFree(p);
    return NULL;
  }
  return p;
}

void cuda_free(const cb_backend *be, void *p) {
  (void)be;
  if (!p) return;
  size_t bytes = 0;
  pthread_mutex_lock(&g_lock);
  int rc = cb_mem_table_remove(&g.mem, p, &bytes);
  pthread_mutex_unlock(&g_lock);
  if (rc) {
    fail("internal: free of %p, which the CUDA backend did not allocate (or freed twice)", p);
    return;
  }
  if (g.failed) return; /* the context may be unusable; the process is ending */
  CU_CHECK(cudaFree(p), "freeing a device buffer");
}

void cuda_upload(const cb_backend *be, void *dst, const void *src, size_t bytes) {
  (void)be;
  if (g.failed || !bytes) return;
  CU_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload");
}

void cuda_download(const cb_backend *be, void *dst, const void *src, size_t bytes) {
  (void)be;
  if (g.failed || !bytes) return;
  CU_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "download");
}

/* memmove semantics, as the CPU backend: overlapping ranges go through a
 * temporary buffer (cudaMemcpy leaves overlap undefined). */
void cuda_copy(const cb_backend *be, void *dst, const void *src, size_t bytes) {
  if (g.failed || !bytes || dst == src) return;
  const char *d = (const char *)dst, *s = (const char *)src;
  if (d + bytes <= s || s + bytes <= d) {
    CU_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "device copy");
    return;
  }
  void *tmp = cuda_alloc(be, bytes, "an overlapping device copy");
  if (!tmp) {
    fail("%s", cb_last_error());
    return;
  }
  if (!CU_CHECK(cudaMemcpy(tmp, src, bytes, cudaMemcpyDeviceToDevice), "device copy"))
    CU_CHECK(cudaMemcpy(dst, tmp, bytes, cudaMemcpyDeviceToDevice), "device copy");
  cuda_free(be, tmp);
}

void cuda_zero(const cb_backend *be, void *p, size_t bytes) {
  (void)be;
  if (g.failed || !bytes) return;
  CU_CHECK(cudaMemset(p, 0, bytes), "zeroing device memory");
}

void cuda_sync(const cb_backend *be) {
  (void)be;
  if (g.failed) return;
  CU_CHECK(cudaDeviceSynchronize(), "synchronising the device");
}

/* ---- GEMM ---- */

/* K = 0: C = beta*C, as the CPU backend does explicitly (BLAS only promises
 * it for some beta), with the shared scale body row by row. */
void scale_rows(const cb_backend *be, float *C, int rows, int cols, int ldc, float beta) {
  for (int r = 0; r < rows; r++) {
    cb_k_scale a = {C + (int64_t)r * ldc, beta};
    cuda_launch(be, CB_KID_scale, cols, &a);
  }
}

cublasOperation_t op(int t) {
  return t ? CUBLAS_OP_T : CUBLAS_OP_N;
}

void cuda_gemm(const cb_backend *be, int ta, int tb, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (g.failed || M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_rows(be, C, M, N, ldc, beta);
    return;
  }
  cb_colmajor_gemm c = cb_gemm_row_to_col(ta, tb, M, N, K, lda, ldb, ldc);
  char ctx[160];
  snprintf(ctx, sizeof ctx, "row-major gemm ta=%d tb=%d M=%d N=%d K=%d lda=%d ldb=%d ldc=%d", ta,
           tb, M, N, K, lda, ldb, ldc);
  BLAS_CHECK(cublasSgemm(g.blas, op(c.trans_first), op(c.trans_second), c.m, c.n, c.k, &alpha, B,
                         c.ld_first, A, c.ld_second, &beta, C, c.ldc),
             ctx);
}

void cuda_gemm_batched(const cb_backend *be, int ta, int tb, int M, int N, int K, float alpha,
                       const float *A, int lda, int64_t sA, const float *B, int ldb, int64_t sB,
                       float beta, float *C, int ldc, int64_t sC, int batch) {
  if (g.failed || M <= 0 || N <= 0 || batch <= 0) return;
  if (K <= 0) {
    for (int b = 0; b < batch; b++)
      scale_rows(be, C + b * sC, M, N, ldc, beta);
    return;
  }
  cb_colmajor_gemm c = cb_gemm_row_to_col(ta, tb, M, N, K, lda, ldb, ldc);
  char ctx[200];
  snprintf(ctx, sizeof ctx,
           "row-major batched gemm ta=%d tb=%d M=%d N=%d K=%d lda=%d ldb=%d ldc=%d batch=%d", ta,
           tb, M, N, K, lda, ldb, ldc, batch);
  BLAS_CHECK(cublasSgemmStridedBatched(g.blas, op(c.trans_first), op(c.trans_second), c.m, c.n, c.k,
                                       &alpha, B, c.ld_first, (long long)sB, A, c.ld_second,
                                       (long long)sA, &beta, C, c.ldc, (long long)sC, batch),
             ctx);
}

/* ---- the rest of the table ---- */

void cuda_set_threads(const cb_backend *be, int n) {
  (void)be;
  (void)n; /* host threads do not apply: the device sets its own parallelism */
}

size_t cuda_mem_in_use(const cb_backend *be) {
  (void)be;
  pthread_mutex_lock(&g_lock);
  size_t v = g.mem.in_use;
  pthread_mutex_unlock(&g_lock);
  return v;
}

size_t cuda_mem_peak(const cb_backend *be) {
  (void)be;
  pthread_mutex_lock(&g_lock);
  size_t v = g.mem.peak;
  pthread_mutex_unlock(&g_lock);
  return v;
}

int cuda_status(const cb_backend *be) {
  (void)be;
  return g.failed ? cb_error("%s", g.first) : 0;
}

/* ---- initialisation ---- */

/* Device count > 0; any CUDA error (no driver, driver too old, no device)
 * means unavailable, with the reason kept for the error message. */
void probe_locked(void) {
  if (g.probed) return;
  g.probed = 1;
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  const char *vis = getenv("CUDA_VISIBLE_DEVICES");
  char visible[300] = "";
  if (vis) snprintf(visible, sizeof visible, " (CUDA_VISIBLE_DEVICES=%s)", vis);
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count <= 0)) {
    (void)cudaGetLastError();
    snprintf(g.why, sizeof g.why, "no CUDA device: the driver reports none%s; use backend cpu",
             visible);
    return;
  }
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    const char *hint = e == cudaErrorInsufficientDriver
                           ? "the NVIDIA driver is missing or older than this CUDA runtime needs"
                           : "the driver could not be queried";
    snprintf(g.why, sizeof g.why,
             "no CUDA device: cudaGetDeviceCount failed: %s (%s; CUDA runtime %d.%d): %s%s; use "
             "backend cpu (or auto)",
             cudaGetErrorString(e), cudaGetErrorName(e), CUDART_VERSION / 1000,
             (CUDART_VERSION % 1000) / 10, hint, visible);
    return;
  }
  g.present = 1;
}

int init_locked(void) {
  if (g.inited) return g.ready ? 0 : -1;
  g.inited = 1;
  probe_locked();
  if (!g.present) return -1;
  int tf32 = 0;
  if (cb_cuda_tf32_setting(getenv("CLIPBENCH_TF32"), &tf32)) {
    snprintf(g.why, sizeof g.why, "%s", cb_last_error());
    return -1;
  }
  const char *sync = getenv("CLIPBENCH_CUDA_SYNC");
  g.sync_launches = sync && strcmp(sync, "1") == 0;
  /* Device 0 of those visible: sweeps pin one worker per GPU with
   * CUDA_VISIBLE_DEVICES. */
  cudaDeviceProp prop;
  cudaError_t e = cudaSetDevice(0);
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, 0);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    snprintf(g.why, sizeof g.why, "no usable CUDA device: selecting device 0 failed: %s (%s)",
             cudaGetErrorString(e), cudaGetErrorName(e));
    return -1;
  }
  g.max_blocks = (unsigned)(prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1) * 32u;
  cublasStatus_t s = cublasCreate(&g.blas);
  /* FP32 GEMMs unless TF32 is asked for; no atomics, so results are
   * reproducible run to run on the same GPU. */
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasSetMathMode(g.blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
  if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetAtomicsMode(g.blas, CUBLAS_ATOMICS_NOT_ALLOWED);
  if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetPointerMode(g.blas, CUBLAS_POINTER_MODE_HOST);
  if (s != CUBLAS_STATUS_SUCCESS) {
    snprintf(g.why, sizeof g.why, "cuBLAS initialisation failed on %s: %s (%s)", prop.name,
             cublasGetStatusString(s), cublasGetStatusName(s));
    return -1;
  }
  cb_backend *t = &g.table;
  t->name = "cuda";
  t->impl = &g;
  t->alloc = cuda_alloc;
  t->free = cuda_free;
  t->upload = cuda_upload;
  t->download = cuda_download;
  t->copy = cuda_copy;
  t->zero = cuda_zero;
  t->sync = cuda_sync;
  t->gemm = cuda_gemm;
  t->gemm_batched = cuda_gemm_batched;
  t->launch = cuda_launch;
  t->set_threads = cuda_set_threads;
  t->mem_in_use = cuda_mem_in_use;
  t->mem_peak = cuda_mem_peak;
  t->status = cuda_status;
  g.ready = 1;
  return 0;
}

} // namespace

extern "C" int cb_cuda_available(void) {
  pthread_mutex_lock(&g_lock);
  probe_locked();
  int present = g.present;
  pthread_mutex_unlock(&g_lock);
  return present;
}

extern "C" const cb_backend *cb_backend_cuda(void) {
  pthread_mutex_lock(&g_lock);
  int rc = init_locked();
  pthread_mutex_unlock(&g_lock);
  if (rc) {
    cb_error("%s", g.why);
    return NULL;
  }
  return &g.table;
}
