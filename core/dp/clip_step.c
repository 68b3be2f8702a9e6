/* Per-sample norms, clipping coefficients and the clipped sum. */
#include "core/base/error.h"
#include "core/dp/engine_internal.h"
#include "core/nn/layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Float rounding in the clipped sum can make |c g| exceed c|g| by about
 * 2^-24 relative; shrinking every bounded coefficient by this factor keeps a
 * clipped contribution strictly inside its bound. */
#define CB_CLIP_SAFETY (1.0 - 4e-6)
#define ABADI_EPS 1e-6

/* Squared norms of the node's weight and bias for each sample, into tsq. */
static void node_sqnorms(cb_dp *dp, int node, int n) {
  cb_model *m = dp->m;
  const cb_node *nd = &m->nodes[node];
  int nt = m->n_tensors;
  int64_t wn = m->tensors[nd->w_tensor].numel;
  if (dp->node_ghost[node] == 1) {
    cb_node_ghost_sqnorm(m, node, n, dp->ghost_scratch, dp->ghost_w, dp->ghost_b);
  } else {
    float *rows = dp->node_psg[node];
    cb_node_grad_per_sample(m, node, n, rows, nd->p_numel);
    if (dp->keep_dev)
      cb_launch_mask_rows(
          m->be, (int64_t)n * nd->p_numel,
          (cb_k_mask_rows){rows, dp->keep_dev, nd->p_numel, nd->p_numel, nd->p_off});
    cb_rows_sqnorm(m, rows, wn, nd->p_numel, n, dp->ghost_w);
    if (nd->b_tensor >= 0)
      cb_rows_sqnorm(m, rows + wn, nd->p_numel - wn, nd->p_numel, n, dp->ghost_b);
  }
  for (int i = 0; i < n; i++) {
    dp->tsq[(size_t)i * nt + nd->w_tensor] = dp->ghost_w[i];
    if (nd->b_tensor >= 0) dp->tsq[(size_t)i * nt + nd->b_tensor] = dp->ghost_b[i];
  }
}

double cb_dp_clip_factor(const cb_dp_cfg *c, double g, double C) {
  switch (c->mode) {
  case CB_CLIP_AUTOMATIC:
    if (c->auto_variant == CB_AUTO_V) return g > 0.0 ? C / g * CB_CLIP_SAFETY : 0.0;
    return C / (g + c->auto_gamma) * CB_CLIP_SAFETY;
  case CB_CLIP_RS: /* Zhu & Blaschko: min(1, C/|g|), no epsilon */
    return g > C ? C / g * CB_CLIP_SAFETY : 1.0;
  case CB_CLIP_NONE: return 1.0;
  default: /* flat, per_layer, adaptive: Opacus' min(1, C/(|g| + 1e-6)) */
    return fmin(1.0, C / (g + ABADI_EPS) * CB_CLIP_SAFETY);
  }
}

/* Group norms and coefficients of every tensor for samples [0, n); only the
 * groups in [g0, g1) are (re)computed. */
static void coefficients(cb_dp *dp, int n, int t0, int t1) {
  cb_model *m = dp->m;
  int nt = m->n_tensors, ng = dp->n_groups;
  for (int i = 0; i < n; i++) {
    double *gsq = dp->gsq + (size_t)i * ng;
    for (int t = t0; t < t1; t++)
      gsq[dp->tensor_group[t]] = 0.0;
    for (int t = t0; t < t1; t++)
      if (!cb_dp_tensor_faulted(dp, t)) gsq[dp->tensor_group[t]] += dp->tsq[(size_t)i * nt + t];
    for (int t = t0; t < t1; t++) {
      int g = dp->tensor_group[t];
      dp->coef[(size_t)i * nt + t] =
          cb_dp_tensor_faulted(dp, t)
              ? 1.0f
              : (float)cb_dp_clip_factor(&dp->cfg, sqrt(gsq[g]), dp->group_bound[g]);
    }
  }
}

/* Adds sum_i c_i g_i of one node to m->grads. */
static void node_clipped_sum(cb_dp *dp, int node, int n) {
  cb_model *m = dp->m;
  const cb_node *nd = &m->nodes[node];
  int nt = m->n_tensors;
  for (int i = 0; i < n; i++) {
    dp->cw[i] = dp->coef[(size_t)i * nt + nd->w_tensor];
    dp->cb[i] = nd->b_tensor >= 0 ? dp->coef[(size_t)i * nt + nd->b_tensor] : 0.0f;
  }
  float *dst = m->grads + nd->p_off;
  if (dp->node_ghost[node] == 1) {
    /* Book-keeping: one GEMM on the reweighted output gradients. */
    cb_node_grad_weighted2(m, node, n, dp->cw, dp->cb, dst, 1.0f);
    return;
  }
  float *rows = dp->node_psg[node];
  int64_t wn = m->tensors[nd->w_tensor].numel;
  cb_upload_coef(m, n, dp->cw);
  cb_weighted_rows(m, n, wn, rows, nd->p_numel, dst, 1.0f);
  if (nd->b_tensor >= 0) {
    cb_upload_coef(m, n, dp->cb);
    cb_weighted_rows(m, n, nd->p_numel - wn, rows + wn, nd->p_numel, dst + wn, 1.0f);
  }
}

/* Node's tensors are contiguous in index: [w_tensor, b_tensor]. */
static void node_tensor_range(const cb_model *m, int node, int *t0, int *t1) {
  const cb_node *nd = &m->nodes[node];
  *t0 = nd->w_tensor;
  *t1 = (nd->b_tensor >= 0 ? nd->b_tensor : nd->w_tensor) + 1;
}

static void nonprivate_sum(cb_dp *dp, int n) {
  cb_model *m = dp->m;
  for (int i = 0; i < n; i++)
    dp->cw[i] = 1.0f;
  for (int node = 0; node < m->n_nodes; node++)
    if (cb_node_is_param(&m->nodes[node]))
      cb_node_grad_weighted(m, node, n, dp->cw, m->grads + m->nodes[node].p_off, 1.0f);
}

int cb_dp_accumulate(cb_dp *dp, int n) {
  cb_model *m = dp->m;
  if (n < 0 || n > m->max_batch)
    return cb_error("chunk of %d images exceeds the physical batch", n);
  for (int i = 0; i < n; i++)
    dp->step_loss += m->host_loss[i];
  if (n == 0) return 0;
  if (dp->cfg.mode == CB_CLIP_NONE && !dp->cfg.record_norms) {
    nonprivate_sum(dp, n);
    dp->step_n += n;
    return m->be->status(m->be);
  }
  int nt = m->n_tensors;
  if (dp->streaming) {
    for (int node = 0; node < m->n_nodes; node++) {
      if (dp->node_ghost[node] < 0) continue;
      int t0, t1;
      node_tensor_range(m, node, &t0, &t1);
      node_sqnorms(dp, node, n);
      coefficients(dp, n, t0, t1);
      node_clipped_sum(dp, node, n);
    }
  } else {
    for (int node = 0; node < m->n_nodes; node++)
      if (dp->node_ghost[node] >= 0) node_sqnorms(dp, node, n);
    coefficients(dp, n, 0, nt);
    for (int node = 0; node < m->n_nodes; node++)
      if (dp->node_ghost[node] >= 0) node_clipped_sum(dp, node, n);
  }
  /* Statistics: total pre-clip norm; a sample counts as clipped when any of
   * its groups exceeded its bound. */
  int *clipped = dp->flags;
  for (int i = 0; i < n; i++) {
    double s = 0.0;
    for (int t = 0; t < nt; t++)
      s += dp->tsq[(size_t)i * nt + t];
    dp->total[i] = sqrt(s);
    int c = 0;
    for (int g = 0; g < dp->n_groups; g++)
      if (sqrt(dp->gsq[(size_t)i * dp->n_groups + g]) > dp->group_bound[g]) c = 1;
    if (dp->cfg.mode == CB_CLIP_NONE) c = 0;
    clipped[i] = c;
    /* Adaptive: "unclipped" is |g| <= C (TF-Privacy). */
    if (dp->total[i] <= dp->clip_bound) dp->step_unclipped += 1.0;
  }
  if (cb_dp_stats_add(dp, n, clipped)) return -1;
  /* The norms above came from the device: fail rather than clip with garbage
   * if any device operation of the chunk failed. */
  return m->be->status(m->be);
}
