/* Per-sample norm statistics for the step and the epoch. */
#include "core/base/error.h"
#include "core/dp/engine_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double CB_PERCENTILES[CB_NPCT] = {10, 25, 50, 75, 90, 99, 100};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double cb_percentile(double *x, int n, double pct) {
  if (n <= 0) return NAN;
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  double pos = pct / 100.0 * (n - 1);
  int lo = (int)floor(pos);
  int hi = lo + 1 < n ? lo + 1 : n - 1;
  return x[lo] + (pos - lo) * (x[hi] - x[lo]);
}

static int grow(double **p, int *cap, int need, int rows) {
  if (need <= *cap) return 0;
  int nc = *cap ? *cap : 256;
  while (nc < need)
    nc *= 2;
  double *np = realloc(*p, (size_t)nc * rows * sizeof(double));
  if (!np) return cb_error("out of memory for norm statistics");
  if (rows > 1 && *cap) {
    /* Rows are [rows][cap]: move each row to its new stride, last first. */
    for (int r = rows - 1; r > 0; r--)
      memmove(np + (size_t)r * nc, np + (size_t)r * *cap, (size_t)*cap * sizeof(double));
  }
  *p = np;
  *cap = nc;
  return 0;
}

int cb_dp_stats_add(cb_dp *dp, int n, const int *clipped) {
  cb_model *m = dp->m;
  int step_cap = dp->step_cap, ep_cap = dp->ep_cap;
  if (grow(&dp->step_norms, &step_cap, dp->step_n + n, 1)) return -1;
  dp->step_cap = step_cap;
  int need = dp->ep_n + n;
  if (need > dp->ep_cap) {
    int cap = ep_cap;
    if (grow(&dp->ep_norms, &cap, need, 1)) return -1;
    cap = ep_cap;
    if (grow(&dp->ep_layer, &cap, need, m->n_nodes)) return -1;
    dp->ep_cap = cap;
  }
  int nt = m->n_tensors;
  for (int i = 0; i < n; i++) {
    dp->step_norms[dp->step_n + i] = dp->total[i];
    dp->ep_norms[dp->ep_n + i] = dp->total[i];
    dp->step_clipped += clipped[i];
    dp->ep_clipped += clipped[i];
    for (int node = 0; node < m->n_nodes; node++) {
      const cb_node *nd = &m->nodes[node];
      double v = NAN;
      if (dp->node_ghost[node] >= 0) {
        double s = dp->tsq[(size_t)i * nt + nd->w_tensor];
        if (nd->b_tensor >= 0) s += dp->tsq[(size_t)i * nt + nd->b_tensor];
        v = sqrt(s);
      }
      dp->ep_layer[(size_t)node * dp->ep_cap + dp->ep_n + i] = v;
    }
  }
  dp->step_n += n;
  dp->ep_n += n;
  return 0;
}

void cb_dp_stats_reset(cb_dp *dp) {
  dp->ep_n = 0;
  dp->ep_clipped = 0;
}

int cb_dp_stats_count(const cb_dp *dp) {
  return dp->ep_n;
}

void cb_dp_stats_percentiles(const cb_dp *dp, double out[CB_NPCT]) {
  double *tmp = dp->ep_n ? malloc((size_t)dp->ep_n * sizeof(double)) : NULL;
  if (tmp) memcpy(tmp, dp->ep_norms, (size_t)dp->ep_n * sizeof(double));
  for (int k = 0; k < CB_NPCT; k++)
    out[k] = tmp ? cb_percentile(tmp, dp->ep_n, CB_PERCENTILES[k]) : NAN;
  free(tmp);
}

double cb_dp_stats_frac_clipped(const cb_dp *dp) {
  return dp->ep_n ? (double)dp->ep_clipped / dp->ep_n : NAN;
}

void cb_dp_stats_layer_medians(const cb_dp *dp, double *out) {
  const cb_model *m = dp->m;
  double *tmp = dp->ep_n ? malloc((size_t)dp->ep_n * sizeof(double)) : NULL;
  for (int node = 0; node < m->n_nodes; node++) {
    out[node] = NAN;
    if (!tmp || dp->node_ghost[node] < 0) continue;
    memcpy(tmp, dp->ep_layer + (size_t)node * dp->ep_cap, (size_t)dp->ep_n * sizeof(double));
    out[node] = cb_percentile(tmp, dp->ep_n, 50.0);
  }
  free(tmp);
}
