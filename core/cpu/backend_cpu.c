/* CPU backend: OpenBLAS for GEMM, OpenMP loops over the shared kernel bodies.
 * Kernels are deterministic for a fixed thread count: every index writes its
 * own outputs and reductions use fixed partial sums. */
#include "core/backend/backend.h"
#include "core/base/error.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Each allocation carries its size in a 64-byte header so the backend can
 * report memory in use and the peak for `clipbench bench`. */
#define HDR 64
static size_t g_in_use, g_peak;

static void *cpu_alloc(const cb_backend *be, size_t bytes, const char *what) {
  (void)be;
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes + HDR) != 0 || !p) {
    cb_error("out of host memory allocating %.1f MiB for %s", bytes / 1048576.0, what);
    return NULL;
  }
  *(size_t *)p = bytes;
#pragma omp atomic
  g_in_use += bytes;
  if (g_in_use > g_peak) g_peak = g_in_use;
  return (char *)p + HDR;
}

static void cpu_free(const cb_backend *be, void *p) {
  (void)be;
  if (!p) return;
  char *base = (char *)p - HDR;
  size_t bytes = *(size_t *)base;
#pragma omp atomic
  g_in_use -= bytes;
  free(base);
}

static void cpu_copy(const cb_backend *be, void *dst, const void *src, size_t bytes) {
  (void)be;
  if (bytes) memmove(dst, src, bytes);
}

static void cpu_zero(const cb_backend *be, void *p, size_t bytes) {
  (void)be;
  if (bytes) memset(p, 0, bytes);
}

static void cpu_sync(const cb_backend *be) {
  (void)be;
}

static void cpu_gemm(const cb_backend *be, int ta, int tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc) {
  (void)be;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    /* BLAS leaves C untouched for K = 0 only when beta = 1; be explicit. */
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++)
        C[(size_t)i * ldc + j] *= beta;
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void cpu_gemm_batched(const cb_backend *be, int ta, int tb, int M, int N, int K, float alpha,
                             const float *A, int lda, int64_t sA, const float *B, int ldb,
                             int64_t sB, float beta, float *C, int ldc, int64_t sC, int batch) {
  for (int b = 0; b < batch; b++)
    cpu_gemm(be, ta, tb, M, N, K, alpha, A + b * sA, lda, B + b * sB, ldb, beta, C + b * sC, ldc);
}

/* One OpenMP loop per kernel, generated from the shared list. */
#define CB_CPU_CASE(name)                                                                    \
  case CB_KID_##name: {                                                                      \
    const cb_k_##name *a = (const cb_k_##name *)args;                                        \
    _Pragma("omp parallel for schedule(static) if (n >= 2)") for (int64_t i = 0; i < n; i++) \
        cb_kb_##name(i, a);                                                                  \
    break;                                                                                   \
  }

/* Launch counts for the kernel coverage test. */
static uint64_t g_launches[CB_KID_COUNT];

const uint64_t *cb_cpu_kernel_launches(void) {
  return g_launches;
}

static void cpu_launch(const cb_backend *be, cb_kernel_id id, int64_t n, const void *args) {
  (void)be;
  if ((unsigned)id < CB_KID_COUNT) {
#pragma omp atomic
    g_launches[id]++;
  }
  switch (id) {
    CB_KERNEL_LIST(CB_CPU_CASE)
  default: abort();
  }
}

static void cpu_set_threads(const cb_backend *be, int n) {
  (void)be;
  if (n <= 0) return;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

static size_t cpu_mem_in_use(const cb_backend *be) {
  (void)be;
  return g_in_use;
}

static size_t cpu_mem_peak(const cb_backend *be) {
  (void)be;
  return g_peak;
}

static int cpu_status(const cb_backend *be) {
  (void)be;
  return 0;
}

static const cb_backend CPU = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .gemm = cpu_gemm,
    .gemm_batched = cpu_gemm_batched,
    .launch = cpu_launch,
    .set_threads = cpu_set_threads,
    .mem_in_use = cpu_mem_in_use,
    .mem_peak = cpu_mem_peak,
    .status = cpu_status,
};

const cb_backend *cb_backend_cpu(void) {
  return &CPU;
}
