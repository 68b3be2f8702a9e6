/* Messages and settings of the CUDA backend, in plain C so the CPU tests
 * check them (test_cuda_host.c). */
#ifndef CB_CUDA_DIAG_H
#define CB_CUDA_DIAG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The out-of-memory message: what was being allocated and its size, what the
 * device has free, what clipbench already holds, and the fix. */
void cb_cuda_oom_message(char *buf, size_t n, const char *what, size_t bytes, size_t free_bytes,
                         size_t total_bytes, size_t held_bytes);

/* CLIPBENCH_TF32: unset, "" or "0" = off (FP32 GEMMs, the default, for
 * reproducibility and parity with the CPU); "1" = cuBLAS may use TF32 tensor
 * cores. Anything else: -1 with cb_error set. */
int cb_cuda_tf32_setting(const char *value, int *on);

#ifdef __cplusplus
}
#endif

#endif
