/* The host-side decisions of the CUDA backend, checked on the CPU (they are
 * plain C shared with core/cuda/backend_cuda.cu):
 *   - the row-major -> column-major GEMM mapping: fed to OpenBLAS in
 *     column-major layout (cuBLAS's convention) it gives the row-major result
 *     of every transpose combination, with padded leading dimensions, beta
 *     != 0, strided batches, to float rounding (1e-5 of max(|c|, 1));
 *   - the grid-stride loop visits every index of [0, n) exactly once for
 *     grids smaller and larger than n, including n past 2^31 (sampled);
 *   - the allocation table's in-use and peak counters, and unknown frees;
 *   - the out-of-memory message names the buffer, the size and
 *     max_physical_batch; CLIPBENCH_TF32 accepts only 0/1;
 *   - without a device (or without CUDA) the backend says "no CUDA device"
 *     and "auto" falls back to the CPU. */
#include "core/backend/backend.h"
#include "core/base/error.h"
#include "core/cuda/diag.h"
#include "core/cuda/gemm_map.h"
#include "core/cuda/grid.h"
#include "core/cuda/mem_table.h"
#include "tests/unit/support.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* C = alpha op(A) op(B) + beta C, row-major, in double. */
static void ref_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0.0;
      for (int k = 0; k < K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      C[i * ldc + j] = (float)(alpha * s + beta * (double)C[i * ldc + j]);
    }
}

/* The mapped call, as backend_cuda.cu makes it, with OpenBLAS standing in
 * for cuBLAS (both column-major BLAS). */
static void mapped_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc) {
  cb_colmajor_gemm g = cb_gemm_row_to_col(ta, tb, M, N, K, lda, ldb, ldc);
  cblas_sgemm(CblasColMajor, g.trans_first ? CblasTrans : CblasNoTrans,
              g.trans_second ? CblasTrans : CblasNoTrans, g.m, g.n, g.k, alpha, B, g.ld_first, A,
              g.ld_second, beta, C, g.ldc);
}

static void check_close(const float *got, const float *want, int rows, int cols, int ld) {
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      double e = tst_rel_err(got[i * ld + j], want[i * ld + j], 1.0); /* values are O(1) */
      if (e > 1e-5)
        fail_msg("C[%d,%d]: mapped %.9g reference %.9g (rel %.3g)", i, j, got[i * ld + j],
                 want[i * ld + j], e);
    }
}

static void test_gemm_mapping(void **s) {
  (void)s;
  const int M = 5, N = 7, K = 3, pad = 2;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
      int arows = ta ? K : M, brows = tb ? N : K;
      float *A = malloc(sizeof(float) * arows * lda), *B = malloc(sizeof(float) * brows * ldb);
      float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
      tst_fill_uniform(A, (size_t)arows * lda, 1 + ta, -1, 1);
      tst_fill_uniform(B, (size_t)brows * ldb, 3 + tb, -1, 1);
      tst_fill_uniform(C1, (size_t)M * ldc, 5, -1, 1);
      memcpy(C2, C1, sizeof(float) * M * ldc);
      mapped_gemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C1, ldc);
      ref_gemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C2, ldc);
      check_close(C1, C2, M, N, ldc);
      /* The padding columns of C are never written. */
      for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++)
          assert_true(C1[i * ldc + j] == C2[i * ldc + j]);
      free(A);
      free(B);
      free(C1);
      free(C2);
    }
}

/* Strided batches: batch b reads A + b*sA, B + b*sB and writes C + b*sC,
 * the operands swapped as in the single call (cublasSgemmStridedBatched). */
static void test_gemm_batched_mapping(void **s) {
  (void)s;
  const int M = 4, N = 3, K = 6, batch = 3;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
      int64_t sA = (int64_t)M * K + 1, sB = (int64_t)K * N + 3, sC = (int64_t)M * N + 2;
      float *A = malloc(sizeof(float) * sA * batch), *B = malloc(sizeof(float) * sB * batch);
      float *C1 = calloc((size_t)(sC * batch), sizeof(float));
      float *C2 = calloc((size_t)(sC * batch), sizeof(float));
      tst_fill_uniform(A, (size_t)(sA * batch), 7, -1, 1);
      tst_fill_uniform(B, (size_t)(sB * batch), 8, -1, 1);
      for (int b = 0; b < batch; b++) {
        mapped_gemm(ta, tb, M, N, K, 1.0f, A + b * sA, lda, B + b * sB, ldb, 0.0f, C1 + b * sC,
                    ldc);
        ref_gemm(ta, tb, M, N, K, 1.0f, A + b * sA, lda, B + b * sB, ldb, 0.0f, C2 + b * sC, ldc);
      }
      for (int b = 0; b < batch; b++)
        check_close(C1 + b * sC, C2 + b * sC, M, N, ldc);
      free(A);
      free(B);
      free(C1);
      free(C2);
    }
}

/* Simulates every (block, thread) of a grid and counts visits. */
static void check_grid(int64_t n, unsigned dim, unsigned max_blocks) {
  unsigned blocks = cb_grid_blocks(n, dim, max_blocks);
  assert_true(blocks >= 1 && blocks <= max_blocks);
  unsigned char *seen = calloc((size_t)n + 1, 1);
  for (unsigned b = 0; b < blocks; b++)
    for (unsigned t = 0; t < dim; t++)
      for (int64_t i = cb_grid_first(b, t, dim); i < n; i += cb_grid_stride(dim, blocks))
        seen[i]++;
  for (int64_t i = 0; i < n; i++)
    if (seen[i] != 1)
      fail_msg("n=%lld dim=%u blocks=%u: index %lld visited %d times", (long long)n, dim, blocks,
               (long long)i, seen[i]);
  free(seen);
}

static void test_grid_covers_once(void **s) {
  (void)s;
  int64_t ns[] = {1, 7, 255, 256, 257, 1000, 4096, 100003};
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    check_grid(ns[k], CB_CUDA_BLOCK, 1u << 20); /* one index per thread */
    check_grid(ns[k], CB_CUDA_BLOCK, 3);        /* grid-stride loop does the rest */
    check_grid(ns[k], 32, 5);
  }
  /* Past 2^31: the first index and stride do not overflow 32 bits. */
  unsigned big = 1u << 24;
  assert_true(cb_grid_first(big - 1, 255, 256) == (int64_t)(big - 1) * 256 + 255);
  assert_true(cb_grid_stride(256, big) == (int64_t)256 * big);
  assert_int_equal(cb_grid_blocks((int64_t)1 << 40, 256, 4000), 4000);
  assert_int_equal(cb_grid_blocks(0, 256, 4000), 1);
}

static void test_mem_table(void **s) {
  (void)s;
  cb_mem_table t = {0};
  char bufs[200];
  for (int i = 0; i < 200; i++)
    assert_int_equal(cb_mem_table_add(&t, bufs + i, (size_t)i + 1), 0);
  size_t total = 200 * 201 / 2;
  assert_true(t.in_use == total && t.peak == total);
  size_t b = 0;
  assert_int_equal(cb_mem_table_remove(&t, bufs + 10, &b), 0);
  assert_int_equal((int)b, 11);
  assert_int_equal(cb_mem_table_remove(&t, bufs + 10, &b), -1); /* double free */
  assert_int_equal(cb_mem_table_remove(&t, bufs + 199, &b), 0);
  assert_int_equal((int)b, 200);
  assert_true(t.in_use == total - 211 && t.peak == total);
  for (int i = 0; i < 200; i++)
    if (i != 10 && i != 199) assert_int_equal(cb_mem_table_remove(&t, bufs + i, &b), 0);
  assert_true(t.in_use == 0 && t.n == 0 && t.peak == total);
  cb_mem_table_release(&t);
}

static void test_messages(void **s) {
  (void)s;
  char msg[512];
  cb_cuda_oom_message(msg, sizeof msg, "per-sample gradients", (size_t)3 << 30, (size_t)1 << 30,
                      (size_t)80 << 30, (size_t)512 << 20);
  assert_non_null(strstr(msg, "per-sample gradients"));
  assert_non_null(strstr(msg, "3072.0 MiB"));
  assert_non_null(strstr(msg, "1024 MiB free of 81920 MiB"));
  assert_non_null(strstr(msg, "512.0 MiB"));
  assert_non_null(strstr(msg, "max_physical_batch"));
  int on = -1;
  assert_int_equal(cb_cuda_tf32_setting(NULL, &on), 0);
  assert_int_equal(on, 0);
  assert_int_equal(cb_cuda_tf32_setting("0", &on), 0);
  assert_int_equal(on, 0);
  assert_int_equal(cb_cuda_tf32_setting("1", &on), 0);
  assert_int_equal(on, 1);
  assert_int_equal(cb_cuda_tf32_setting("yes", &on), -1);
  assert_non_null(strstr(cb_last_error(), "CLIPBENCH_TF32 must be 0"));
}

/* The error path this machine can run: no device (or no CUDA build). Where
 * a device exists the cuda tests cover the other path. */
static void test_unavailable(void **s) {
  (void)s;
  if (cb_cuda_available()) {
    assert_non_null(cb_backend_cuda());
    return;
  }
  cb_error_clear();
  assert_null(cb_backend_cuda());
  const char *e = cb_last_error();
  assert_true(strstr(e, "no CUDA device") || strstr(e, "built without the CUDA backend"));
  assert_null(strchr(e, '\n'));
  assert_ptr_equal(cb_backend_get("auto"), cb_backend_cpu());
  assert_null(cb_backend_get("cuda"));
  assert_int_equal(cb_backend_cpu()->status(cb_backend_cpu()), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_mapping),     cmocka_unit_test(test_gemm_batched_mapping),
      cmocka_unit_test(test_grid_covers_once), cmocka_unit_test(test_mem_table),
      cmocka_unit_test(test_messages),         cmocka_unit_test(test_unavailable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
