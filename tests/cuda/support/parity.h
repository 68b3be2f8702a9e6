/* Helpers of the CUDA parity tests (tests/cuda/test_*.c): the device under
 * test, buffers mirrored on the CPU and the device, and comparisons with
 * stated bounds.
 *
 * Bounds used across the suite (why they are what they are):
 *   PT_EXACT   kernels whose bodies use only + - * / sqrt and conversions:
 *              backend_cuda.cu is compiled with --fmad=false and IEEE
 *              division/sqrt, so every operation rounds as on the CPU and
 *              results are bit-identical.
 *   ulps       bodies that call exp/log/cos in double (softmax_nll, noise):
 *              CUDA's double exp/log are within 1 ulp and cos within 2 ulp
 *              of the correctly rounded result, glibc's within 1; the float
 *              result can then differ by 1 ulp when the double lands next
 *              to a float rounding boundary. Bound: 2 float ulps per element
 *              and at least 99.9% of elements bit-identical.
 *   GEMM       cuBLAS and OpenBLAS sum in different orders: each element
 *              within 2*K*2^-24 * (|alpha| sum_k |a_ik b_kj| + |beta c_ij|)
 *              (twice the classical bound for a K-term float dot product).
 *   layers     relative L2 error <= 1e-5 and every element within 1e-5 of
 *              the largest magnitude (GEMM rounding through one layer).
 *   models     1e-4 for whole models, DP steps and training steps (rounding
 *              differences compound through depth and steps). */
#ifndef CB_TESTS_CUDA_PARITY_H
#define CB_TESTS_CUDA_PARITY_H

#include "core/backend/backend.h"
#include "tests/unit/support.h"

#include <stddef.h>
#include <stdint.h>

/* The device under test, for main(): the CUDA backend; with
 * CLIPBENCH_TEST_DEVICE=cpu a second use of the CPU backend stands in (a
 * check of the test code itself on machines without a GPU: it proves nothing
 * about CUDA and says so). Without either it prints "SKIPPED: no CUDA device
 * (reason)" and exits 77, which CTest reports as skipped. */
void pt_init_or_skip(const char *test);
const cb_backend *pt_dev(void);
const cb_backend *pt_cpu(void);
int pt_standin(void); /* the CPU stands in for the device */

/* A float buffer with the same contents on the CPU and on the device. */
typedef struct {
  float *cpu, *dev;
  int64_t n;
} pt_buf;
typedef struct {
  unsigned char *cpu, *dev;
  int64_t n;
} pt_bytes;
typedef struct {
  double *cpu, *dev;
  int64_t n;
} pt_dbuf;

pt_buf pt_buf_uniform(int64_t n, uint64_t seed, float lo, float hi);
pt_buf pt_buf_from(const float *host, int64_t n);
pt_bytes pt_bytes_from(const unsigned char *host, int64_t n);
pt_dbuf pt_dbuf_zero(int64_t n);
/* Copies the CPU contents to the device (after editing .cpu by hand). */
void pt_buf_sync(pt_buf *b);
void pt_buf_free(pt_buf *b);
void pt_bytes_free(pt_bytes *b);
void pt_dbuf_free(pt_dbuf *b);

/* Device contents on the host (caller frees). */
float *pt_download(const float *dev, int64_t n);
double *pt_download_d(const double *dev, int64_t n);

/* Assertions; `what` names the quantity in the failure message. */
void pt_expect_exact(const char *what, const float *dev_host, const float *cpu, int64_t n);
void pt_expect_exact_bytes(const char *what, const unsigned char *dev_host,
                           const unsigned char *cpu, int64_t n);
void pt_expect_exact_d(const char *what, const double *dev_host, const double *cpu, int64_t n);
void pt_expect_ulps(const char *what, const float *dev_host, const float *cpu, int64_t n,
                    int max_ulps, double min_identical);
/* Relative L2 <= tol and max |diff| <= tol * max |cpu| (floats / doubles). */
void pt_expect_close(const char *what, const float *dev_host, const float *cpu, int64_t n,
                     double tol);
void pt_expect_close_d(const char *what, const double *dev_host, const double *cpu, int64_t n,
                       double tol);

/* Downloads b.dev and compares with b.cpu. */
void pt_check_exact(const char *what, const pt_buf *b);
void pt_check_ulps(const char *what, const pt_buf *b, int max_ulps, double min_identical);
void pt_check_close(const char *what, const pt_buf *b, double tol);

/* The bounds named above. */
#define PT_LAYER_TOL 1e-5
#define PT_MODEL_TOL 1e-4
#define PT_MATH_ULPS 2
#define PT_MATH_IDENTICAL 0.999

#endif
