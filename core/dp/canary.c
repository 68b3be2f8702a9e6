/* Gradient canaries of a privacy audit (Steinke, Nasr and Jagielski 2023,
 * the white-box variant): crafted per-sample gradients that enter a logical
 * step as samples of the batch and go through the same clipping as a real
 * sample's gradient, so the audit measures the engine itself. Each canary is
 * a Dirac gradient: one value at one parameter coordinate, zero elsewhere, so
 * canaries never overlap and a layer that escapes clipping shows up in the
 * canaries placed in it. */
#include "core/base/error.h"
#include "core/dp/engine_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cb_dp_set_canaries(cb_dp *dp, int n, const int64_t *coord, const float *value) {
  const cb_model *m = dp->m;
  free(dp->canary_coord);
  free(dp->canary_value);
  free(dp->canary_tensor);
  dp->canary_coord = NULL;
  dp->canary_value = NULL;
  dp->canary_tensor = NULL;
  dp->n_canaries = 0;
  if (n <= 0) return 0;
  dp->canary_coord = cb_malloc((size_t)n * sizeof(int64_t), "gradient canaries");
  dp->canary_value = cb_malloc((size_t)n * sizeof(float), "gradient canaries");
  dp->canary_tensor = cb_malloc((size_t)n * sizeof(int), "gradient canaries");
  if (!dp->canary_coord || !dp->canary_value || !dp->canary_tensor) return -1;
  for (int k = 0; k < n; k++) {
    if (coord[k] < 0 || coord[k] >= m->n_params || !isfinite(value[k]))
      return cb_error("internal: gradient canary %d at coordinate %lld of %lld parameters", k,
                      (long long)coord[k], (long long)m->n_params);
    int t = 0;
    while (t + 1 < m->n_tensors && m->tensors[t + 1].offset <= coord[k])
      t++;
    dp->canary_coord[k] = coord[k];
    dp->canary_value[k] = value[k];
    dp->canary_tensor[k] = t;
  }
  dp->n_canaries = n;
  return 0;
}

int cb_dp_add_canaries(cb_dp *dp, const int *which, int n) {
  cb_model *m = dp->m;
  const cb_dp_cfg *c = &dp->cfg;
  for (int i = 0; i < n; i++) {
    int k = which[i];
    if (k < 0 || k >= dp->n_canaries) return cb_error("internal: no gradient canary %d", k);
    int64_t p = dp->canary_coord[k];
    int t = dp->canary_tensor[k];
    double v = dp->canary_value[k];
    /* Random sparsification drops coordinates before the norm. */
    if (dp->keep_host && !dp->keep_host[p]) v = 0.0;
    double coef = 1.0;
    if (c->mode != CB_CLIP_NONE && !cb_dp_tensor_faulted(dp, t))
      coef = cb_dp_clip_factor(c, fabs(v), dp->group_bound[dp->tensor_group[t]]);
    /* Adaptive clipping counts it like a sample: |g| <= C is unclipped. */
    if (fabs(v) <= dp->clip_bound) dp->step_unclipped += 1.0;
    dp->step_canaries += 1.0;
    float g;
    m->be->download(m->be, &g, m->grads + p, sizeof g);
    g += (float)coef * (float)v;
    m->be->upload(m->be, m->grads + p, &g, sizeof g);
  }
  return m->be->status(m->be);
}

void cb_dp_test_fault_unclip(cb_dp *dp, int node) {
  dp->fault_unclipped_node = node;
}
