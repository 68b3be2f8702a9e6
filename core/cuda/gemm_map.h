/* The row-major GEMM of the backend table expressed for a column-major BLAS
 * (cuBLAS). A row-major matrix read as column-major is its transpose, so
 *   row-major  C = op(A) op(B)   (M x N)
 * is column-major  C^T = op(B)^T op(A)^T  (N x M)
 * with the operands swapped and every dimension and leading dimension kept.
 * Plain C, so the CPU tests check the mapping against OpenBLAS in both
 * layouts (tests/unit/test_cuda_host.c). */
#ifndef CB_CUDA_GEMM_MAP_H
#define CB_CUDA_GEMM_MAP_H

typedef struct {
  int trans_first, trans_second; /* transpose flags of the two operands */
  int m, n, k;                   /* column-major problem size */
  int ld_first, ld_second, ldc;
} cb_colmajor_gemm;

/* The first column-major operand is B (leading dimension ldb), the second is
 * A (lda); C keeps ldc. */
static inline cb_colmajor_gemm cb_gemm_row_to_col(int ta, int tb, int M, int N, int K, int lda,
                                                  int ldb, int ldc) {
  cb_colmajor_gemm g;
  g.trans_first = tb != 0;
  g.trans_second = ta != 0;
  g.m = N;
  g.n = M;
  g.k = K;
  g.ld_first = ldb;
  g.ld_second = lda;
  g.ldc = ldc;
  return g;
}

#endif
