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
    if (grow(&dp->ep_layer, &cap, need, dp->n_stat)) return -1;
    dp->ep_cap = cap;
  }
  if (!dp->ep_gclipped) {
    dp->ep_gclipped = cb_calloc((size_t)dp->n_stat, sizeof(double), "norm statistics");
    dp->ep_gbound = cb_calloc((size_t)dp->n_stat, sizeof(double), "norm statistics");
    if (!dp->ep_gclipped || !dp->ep_gbound) return -1;
  }
  int nt = m->n_tensors, ng = dp->n_groups;
  for (int i = 0; i < n; i++) {
    dp->step_norms[dp->step_n + i] = dp->total[i];
    dp->ep_norms[dp->ep_n + i] = dp->total[i];
    dp->step_clipped += clipped[i];
    dp->ep_clipped += clipped[i];
    if (dp->stat_by_group) {
      /* The group norms the coefficients came from, against each C_k. */
      for (int g = 0; g < ng; g++) {
        double v = sqrt(dp->gsq[(size_t)i * ng + g]);
        dp->ep_layer[(size_t)g * dp->ep_cap + dp->ep_n + i] = v;
        dp->ep_gclipped[g] += v > dp->group_bound[g];
        dp->ep_gbound[g] += dp->group_bound[g];
      }
      continue;
    }
    /* One bound for the whole gradient: a layer is scaled down exactly when
     * the sample is. */
    for (int node = 0; node < m->n_nodes; node++) {
      const cb_node *nd = &m->nodes[node];
      double v = NAN;
      if (dp->node_ghost[node] >= 0) {
        double s = dp->tsq[(size_t)i * nt + nd->w_tensor];
        if (nd->b_tensor >= 0) s += dp->tsq[(size_t)i * nt + nd->b_tensor];
        v = sqrt(s);
      }
      dp->ep_layer[(size_t)node * dp->ep_cap + dp->ep_n + i] = v;
      dp->ep_gclipped[node] += clipped[i];
      dp->ep_gbound[node] += dp->group_bound[0];
    }
  }
  dp->step_n += n;
  dp->ep_n += n;
  return 0;
}

void cb_dp_stats_reset(cb_dp *dp) {
  dp->ep_n = 0;
  dp->ep_clipped = 0;
  for (int k = 0; dp->ep_gclipped && k < dp->n_stat; k++)
    dp->ep_gclipped[k] = dp->ep_gbound[k] = 0.0;
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

int cb_dp_stats_max_groups(const cb_dp *dp) {
  return dp->n_stat;
}

/* Name of statistics row k: the clipping group's tensor or layer, or the
 * layer of node k; NULL for a node without parameters. */
static const char *group_name(const cb_dp *dp, int k, const char **scope) {
  const cb_model *m = dp->m;
  if (!dp->stat_by_group) {
    *scope = "model";
    return dp->node_ghost[k] >= 0 ? m->nodes[k].name : NULL;
  }
  if (dp->cfg.group_by == CB_GROUP_LAYER) {
    *scope = "layer";
    for (int node = 0; node < m->n_nodes; node++)
      if (cb_node_is_param(&m->nodes[node]) && dp->tensor_group[m->nodes[node].w_tensor] == k)
        return m->nodes[node].name;
    return NULL;
  }
  *scope = "tensor";
  for (int t = 0; t < m->n_tensors; t++)
    if (dp->tensor_group[t] == k) return m->tensors[t].name;
  return NULL;
}

int cb_dp_stats_groups(const cb_dp *dp, cb_dp_group_stats *out) {
  double *tmp = dp->ep_n ? malloc((size_t)dp->ep_n * sizeof(double)) : NULL;
  if (dp->ep_n && !tmp) return cb_error("out of memory for norm statistics");
  int n = 0;
  for (int k = 0; k < dp->n_stat; k++) {
    const char *scope = NULL, *name = group_name(dp, k, &scope);
    if (!name) continue;
    cb_dp_group_stats *g = &out[n++];
    g->name = name;
    g->scope = scope;
    g->median = g->p90 = g->max = g->bound = g->frac_clipped = NAN;
    if (!tmp) continue;
    memcpy(tmp, dp->ep_layer + (size_t)k * dp->ep_cap, (size_t)dp->ep_n * sizeof(double));
    /* sorted by the first call; the later ones read the sorted copy */
    g->median = cb_percentile(tmp, dp->ep_n, 50.0);
    g->p90 = cb_percentile(tmp, dp->ep_n, 90.0);
    g->max = cb_percentile(tmp, dp->ep_n, 100.0);
    g->bound = dp->ep_gbound[k] / dp->ep_n;
    g->frac_clipped = dp->ep_gclipped[k] / dp->ep_n;
  }
  free(tmp);
  return n;
}
