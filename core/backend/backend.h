/* The backend table. Layers, models and the DP step are written once against
 * it; core/cpu implements it with OpenBLAS + OpenMP and core/cuda with
 * cuBLAS + CUDA kernels. Pointers passed to these functions are device
 * pointers of that backend (host memory for the CPU backend) unless named
 * host_*. Matrices are row-major. */
#ifndef CB_BACKEND_BACKEND_H
#define CB_BACKEND_BACKEND_H

#include "core/kernels/kernels.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_backend cb_backend;

struct cb_backend {
  const char *name; /* "cpu" or "cuda" */
  void *impl;       /* backend private state (handles, streams) */

  /* Memory. alloc returns NULL with cb_error set on failure. */
  void *(*alloc)(const cb_backend *be, size_t bytes, const char *what);
  void (*free)(const cb_backend *be, void *p);
  void (*upload)(const cb_backend *be, void *dst, const void *host_src, size_t bytes);
  void (*download)(const cb_backend *be, void *host_dst, const void *src, size_t bytes);
  void (*copy)(const cb_backend *be, void *dst, const void *src, size_t bytes);
  void (*zero)(const cb_backend *be, void *p, size_t bytes);
  void (*sync)(const cb_backend *be);

  /* C = alpha * op(A) * op(B) + beta * C, row-major; op = transpose if t*. */
  void (*gemm)(const cb_backend *be, int ta, int tb, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
  /* The same for `batch` independent problems at fixed strides. */
  void (*gemm_batched)(const cb_backend *be, int ta, int tb, int M, int N, int K, float alpha,
                       const float *A, int lda, int64_t sA, const float *B, int ldb, int64_t sB,
                       float beta, float *C, int ldc, int64_t sC, int batch);

  /* Runs kernel `id` over indices [0, n) with its argument struct. */
  void (*launch)(const cb_backend *be, cb_kernel_id id, int64_t n, const void *args);

  /* Threads the backend uses for host loops and BLAS (CPU); 0 = default. */
  void (*set_threads)(const cb_backend *be, int n);

  /* Bytes currently allocated and the peak, for benchmarks and OOM errors. */
  size_t (*mem_in_use)(const cb_backend *be);
  size_t (*mem_peak)(const cb_backend *be);

  /* 0 when every operation so far succeeded, else -1 with cb_error set to
   * the first failure. The operations above return nothing, so a device
   * error (CUDA: a failed copy, cuBLAS call or kernel) is recorded here and
   * every later operation is skipped; callers check at step boundaries
   * (cb_dp_accumulate and cb_dp_finish_step return it). The CPU backend
   * cannot fail after allocation and always returns 0. */
  int (*status)(const cb_backend *be);
};

/* Typed launch helpers: cb_launch_fill(be, n, (cb_k_fill){...}) etc. */
#define CB_LAUNCH_HELPER(name)                                                          \
  static inline void cb_launch_##name(const cb_backend *be, int64_t n, cb_k_##name a) { \
    if (n > 0) be->launch(be, CB_KID_##name, n, &a);                                    \
  }
CB_KERNEL_LIST(CB_LAUNCH_HELPER)
#undef CB_LAUNCH_HELPER

/* Backend registry. */
const cb_backend *cb_backend_cpu(void);
/* Returns the CUDA backend, or NULL with cb_error set when it was not built or
 * no device is present. */
const cb_backend *cb_backend_cuda(void);
/* "cpu", "cuda" or "auto" (CUDA when a device is present, else CPU). */
const cb_backend *cb_backend_get(const char *name);
/* Whether a CUDA device can be used (built with CUDA and a device present).
 * This initialises the CUDA driver, after which a fork()ed child cannot use
 * CUDA: a program that forks workers asks in a child, or after forking. */
int cb_cuda_available(void);

/* Launches per kernel id of the CPU backend in this process (indexed by
 * cb_kernel_id), for the test that proves the CPU suite runs every kernel. */
const uint64_t *cb_cpu_kernel_launches(void);

#endif
