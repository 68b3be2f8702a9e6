/* Row reductions for per-sample norms, done as fixed-size partial sums so the
 * result is deterministic (same order every run, on every thread count) and
 * the work spreads over more than one index per row. The partials are summed
 * on the host in index order. */
#ifndef CB_KERNELS_REDUCE_H
#define CB_KERNELS_REDUCE_H

#include "core/kernels/hd.h"

/* part[r*nch + ch] = sum over chunk ch of row r of x[r*ld + j]^2 (or of
 * x*y when y is given). Index over rows*nch. */
typedef struct {
  const float *x, *y;
  double *part;
  int64_t len, ld;
  int nch;
} cb_k_row_sumsq;
CB_HD static inline void cb_kb_row_sumsq(int64_t i, const cb_k_row_sumsq *a) {
  int64_t r = i / a->nch, ch = i % a->nch;
  int64_t per = (a->len + a->nch - 1) / a->nch;
  int64_t j0 = ch * per, j1 = j0 + per < a->len ? j0 + per : a->len;
  const float *x = a->x + r * a->ld;
  double s = 0.0;
  if (a->y) {
    const float *y = a->y + r * a->ld;
    for (int64_t j = j0; j < j1; j++)
      s += (double)x[j] * (double)y[j];
  } else {
    for (int64_t j = j0; j < j1; j++)
      s += (double)x[j] * (double)x[j];
  }
  a->part[i] = s;
}

#endif
