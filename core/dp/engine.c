/* The DP-SGD step: plan, per-sample norms, clipping, noise. See dp.h. */
#include "core/base/error.h"
#include "core/dp/dp.h"
#include "core/dp/engine_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const CB_CLIP_NAMES[] = {
    "none", "flat", "per_layer", "automatic", "random_sparsification", "adaptive", NULL};
const char *const CB_NORM_RULE_NAMES[] = {"mixed", "ghost", "materialise", NULL};
const char *const CB_GROUP_BY_NAMES[] = {"tensor", "layer", NULL};
const char *const CB_THRESHOLD_NAMES[] = {"same", "split", NULL};
const char *const CB_AUTO_NAMES[] = {"auto_s", "auto_v", NULL};

void cb_dp_cfg_default(cb_dp_cfg *c) {
  memset(c, 0, sizeof *c);
  c->mode = CB_CLIP_FLAT;
  c->clip_bound = 1.0;
  c->noise_multiplier = 1.0;
  c->expected_batch = 1.0;
  c->seed = 0;
  c->norm_rule = CB_NORM_MIXED;
  c->group_by = CB_GROUP_TENSOR;
  c->thresholds = CB_THRESH_SAME;
  c->per_layer_scope = 0;
  c->auto_variant = CB_AUTO_S;
  c->auto_gamma = 0.01;
  c->rs_final_rate = 0.9;
  c->rs_refresh = 1;
  c->epochs = 1;
  c->steps_per_epoch = 1;
  c->ad_target_quantile = 0.5;
  c->ad_lr = 0.2;
  c->ad_count_std = 0.0;
}

static int uses_groups(const cb_dp_cfg *c) {
  return c->mode == CB_CLIP_PER_LAYER || (c->mode == CB_CLIP_AUTOMATIC && c->per_layer_scope);
}

static int validate(const cb_model *m, const cb_dp_cfg *c) {
  if ((int)c->mode < 0 || c->mode > CB_CLIP_ADAPTIVE) return cb_error("unknown clipping mode");
  if (c->mode == CB_CLIP_NONE) return 0;
  if (!(c->clip_bound > 0.0) || !isfinite(c->clip_bound))
    return cb_error("dp.clip_bound must be a positive number, got %g", c->clip_bound);
  if (!(c->noise_multiplier >= 0.0) || !isfinite(c->noise_multiplier))
    return cb_error("dp.noise_multiplier must be >= 0, got %g", c->noise_multiplier);
  if (!(c->expected_batch > 0.0))
    return cb_error("expected batch size must be positive, got %g", c->expected_batch);
  if (c->mode == CB_CLIP_AUTOMATIC && !(c->auto_gamma >= 0.0))
    return cb_error("dp.automatic.gamma must be >= 0, got %g", c->auto_gamma);
  if (c->mode == CB_CLIP_RS) {
    if (!(c->rs_final_rate >= 0.0 && c->rs_final_rate < 1.0))
      return cb_error("dp.sparsification.final_rate must be in [0, 1), got %g", c->rs_final_rate);
    if (c->rs_refresh < 1)
      return cb_error("dp.sparsification.refresh must be >= 1, got %d", c->rs_refresh);
  }
  if (c->mode == CB_CLIP_ADAPTIVE) {
    if (!(c->ad_target_quantile > 0.0 && c->ad_target_quantile < 1.0))
      return cb_error("dp.adaptive.target_quantile must be in (0, 1), got %g",
                      c->ad_target_quantile);
    if (!(c->ad_lr > 0.0)) return cb_error("dp.adaptive.lr must be positive, got %g", c->ad_lr);
    double sb =
        c->ad_count_std > 0 ? c->ad_count_std : fmax(c->expected_batch / 20.0, c->noise_multiplier);
    double zd;
    if (c->noise_multiplier > 0 && cb_adaptive_sigma_delta(c->noise_multiplier, sb, &zd)) return -1;
  }
  /* Every parameter must belong to a layer the engine can clip. */
  int64_t covered = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    if (nd->p_numel == 0) continue;
    if (!cb_node_is_param(nd))
      return cb_error("layer '%s' has parameters but no per-sample gradient rule; refusing to "
                      "train it privately (it would escape clipping)",
                      nd->name);
    covered += nd->p_numel;
  }
  if (covered != m->n_params)
    return cb_error("internal: %lld of %lld parameters belong to no clippable layer",
                    (long long)(m->n_params - covered), (long long)m->n_params);
  return 0;
}

/* Clipping groups: one for all-layer modes; per tensor or per layer for
 * per_layer and per-layer-scope automatic. */
static int plan_groups(cb_dp *dp) {
  const cb_model *m = dp->m;
  dp->tensor_group = cb_calloc((size_t)m->n_tensors, sizeof(int), "clip groups");
  dp->group_bound = cb_calloc((size_t)m->n_tensors + 1, sizeof(double), "clip groups");
  if (!dp->tensor_group || !dp->group_bound) return -1;
  if (!uses_groups(&dp->cfg)) {
    dp->n_groups = 1;
    dp->group_bound[0] = dp->cfg.clip_bound;
    return 0;
  }
  int g = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    if (!cb_node_is_param(nd)) continue;
    if (dp->cfg.group_by == CB_GROUP_LAYER) {
      dp->tensor_group[nd->w_tensor] = g;
      if (nd->b_tensor >= 0) dp->tensor_group[nd->b_tensor] = g;
      g++;
    } else {
      dp->tensor_group[nd->w_tensor] = g++;
      if (nd->b_tensor >= 0) dp->tensor_group[nd->b_tensor] = g++;
    }
  }
  dp->n_groups = g;
  double ck = dp->cfg.clip_bound;
  if (dp->cfg.thresholds == CB_THRESH_SPLIT) ck /= sqrt((double)g);
  for (int k = 0; k < g; k++)
    dp->group_bound[k] = ck;
  return 0;
}

static int plan_norms(cb_dp *dp) {
  cb_model *m = dp->m;
  dp->node_ghost = cb_calloc((size_t)m->n_nodes, sizeof(int), "norm plan");
  dp->node_psg = cb_calloc((size_t)m->n_nodes, sizeof(float *), "norm plan");
  if (!dp->node_ghost || !dp->node_psg) return -1;
  int need_norms = dp->cfg.mode != CB_CLIP_NONE || dp->cfg.record_norms;
  /* Streaming: when every group lies within one layer, each layer can be
   * clipped as soon as its norms are known, so only one layer's per-sample
   * gradients are alive at a time. */
  dp->streaming = uses_groups(&dp->cfg);
  int64_t total = 0, largest = 0, ghost_scratch = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    dp->node_ghost[i] = -1;
    if (!cb_node_is_param(nd) || !need_norms) continue;
    int ghost = 0;
    if (cb_node_has_ghost(nd) && dp->cfg.mode != CB_CLIP_RS) {
      int64_t T, p, d;
      cb_node_gemm_dims(m, nd, &T, &p, &d);
      if (dp->cfg.norm_rule == CB_NORM_GHOST)
        ghost = 1;
      else if (dp->cfg.norm_rule == CB_NORM_MIXED)
        ghost = 2 * T * T < p * d; /* the space rule of fastDP's mixed ghost clipping */
      if (ghost && 2 * T * T > ghost_scratch) ghost_scratch = 2 * T * T;
    }
    dp->node_ghost[i] = ghost;
    if (!ghost) {
      total += nd->p_numel;
      if (nd->p_numel > largest) largest = nd->p_numel;
    }
  }
  int64_t rows = dp->streaming ? largest : total;
  int N = m->max_batch;
  size_t bytes = (size_t)N * rows * sizeof(float);
  if (rows > 0) {
    dp->psg = m->be->alloc(m->be, bytes, "per-sample gradients");
    if (!dp->psg)
      return cb_error("%s; per-sample gradients need %.1f MiB for a physical batch of %d: lower "
                      "max_physical_batch or use norm_rule ghost",
                      cb_last_error(), bytes / 1048576.0, N);
    dp->bytes += bytes;
  }
  int64_t off = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    if (dp->node_ghost[i] != 0) continue;
    dp->node_psg[i] = dp->psg + (dp->streaming ? 0 : off * N);
    off += m->nodes[i].p_numel;
  }
  if (ghost_scratch > 0) {
    size_t gb = (size_t)ghost_scratch * sizeof(float);
    dp->ghost_scratch = m->be->alloc(m->be, gb, "ghost-norm Gram matrices");
    if (!dp->ghost_scratch) return -1;
    dp->bytes += gb;
  }
  return 0;
}

cb_dp *cb_dp_create(cb_model *m, const cb_dp_cfg *cfg) {
  if (validate(m, cfg)) return NULL;
  cb_dp *dp = cb_calloc(1, sizeof *dp, "DP engine");
  if (!dp) return NULL;
  dp->m = m;
  dp->cfg = *cfg;
  dp->clip_bound = cfg->clip_bound;
  dp->mask_period = -1;
  dp->fault_unclipped_node = -1;
  if (cfg->mode == CB_CLIP_ADAPTIVE) {
    dp->count_std = cfg->ad_count_std > 0 ? cfg->ad_count_std
                                          : fmax(cfg->expected_batch / 20.0, cfg->noise_multiplier);
    if (cfg->noise_multiplier > 0)
      cb_adaptive_sigma_delta(cfg->noise_multiplier, dp->count_std, &dp->sigma_delta);
  }
  int N = m->max_batch, nt = m->n_tensors;
  dp->tsq = cb_calloc((size_t)N * nt, sizeof(double), "norms");
  dp->total = cb_calloc((size_t)N, sizeof(double), "norms");
  dp->coef = cb_calloc((size_t)N * nt, sizeof(float), "clip coefficients");
  dp->cw = cb_calloc((size_t)N, sizeof(float), "clip coefficients");
  dp->cb = cb_calloc((size_t)N, sizeof(float), "clip coefficients");
  dp->gsq = cb_calloc((size_t)N * (nt + 1), sizeof(double), "norms");
  dp->ghost_w = cb_calloc((size_t)N, sizeof(double), "norms");
  dp->ghost_b = cb_calloc((size_t)N, sizeof(double), "norms");
  dp->flags = cb_calloc((size_t)N, sizeof(int), "norms");
  if (!dp->flags || !dp->tsq || !dp->total || !dp->coef || !dp->cw || !dp->cb || !dp->gsq ||
      !dp->ghost_w || !dp->ghost_b || plan_groups(dp) || plan_norms(dp)) {
    cb_dp_free(dp);
    return NULL;
  }
  if (cfg->mode == CB_CLIP_RS) {
    dp->keep_host = cb_malloc((size_t)m->n_params, "sparsification mask");
    dp->perm = cb_malloc((size_t)m->n_params * sizeof(uint32_t), "sparsification mask");
    dp->keep_dev = m->be->alloc(m->be, (size_t)m->n_params, "sparsification mask");
    if (!dp->keep_host || !dp->perm || !dp->keep_dev) {
      cb_dp_free(dp);
      return NULL;
    }
    dp->bytes += (size_t)m->n_params;
  }
  if (cfg->secure_mode && cb_os_seed(&dp->cfg.seed)) {
    cb_dp_free(dp);
    return NULL;
  }
  cb_dp_stats_reset(dp);
  return dp;
}

void cb_dp_free(cb_dp *dp) {
  if (!dp) return;
  const cb_backend *be = dp->m->be;
  if (dp->psg) be->free(be, dp->psg);
  if (dp->ghost_scratch) be->free(be, dp->ghost_scratch);
  if (dp->keep_dev) be->free(be, dp->keep_dev);
  free(dp->keep_host);
  free(dp->perm);
  free(dp->tensor_group);
  free(dp->group_bound);
  free(dp->node_ghost);
  free(dp->node_psg);
  free(dp->tsq);
  free(dp->total);
  free(dp->coef);
  free(dp->cw);
  free(dp->cb);
  free(dp->gsq);
  free(dp->ghost_w);
  free(dp->ghost_b);
  free(dp->flags);
  free(dp->step_norms);
  free(dp->ep_norms);
  free(dp->ep_layer);
  free(dp->canary_coord);
  free(dp->canary_value);
  free(dp->canary_tensor);
  free(dp);
}

double cb_dp_clip_bound(const cb_dp *dp) {
  return dp->clip_bound;
}

void cb_dp_set_clip_bound(cb_dp *dp, double c) {
  dp->clip_bound = c;
  if (!uses_groups(&dp->cfg)) dp->group_bound[0] = c;
}

double cb_dp_accounting_sigma(const cb_dp *dp) {
  return dp->cfg.mode == CB_CLIP_NONE ? 0.0 : dp->cfg.noise_multiplier;
}

double cb_dp_noise_std(const cb_dp *dp) {
  const cb_dp_cfg *c = &dp->cfg;
  if (c->mode == CB_CLIP_NONE) return 0.0;
  if (c->mode == CB_CLIP_ADAPTIVE) return dp->sigma_delta * dp->clip_bound;
  double s2 = 0.0;
  for (int k = 0; k < dp->n_groups; k++)
    s2 += dp->group_bound[k] * dp->group_bound[k];
  return c->noise_multiplier * sqrt(s2);
}

int cb_dp_n_groups(const cb_dp *dp) {
  return dp->n_groups;
}
double cb_dp_group_bound(const cb_dp *dp, int g) {
  return dp->group_bound[g];
}
int cb_dp_tensor_group(const cb_dp *dp, int t) {
  return dp->tensor_group[t];
}
int cb_dp_node_uses_ghost(const cb_dp *dp, int node) {
  return dp->node_ghost[node] == 1;
}
size_t cb_dp_bytes(const cb_dp *dp) {
  return dp->bytes;
}
const double *cb_dp_last_tensor_sqnorms(const cb_dp *dp) {
  return dp->tsq;
}
const double *cb_dp_last_total_norms(const cb_dp *dp) {
  return dp->total;
}
const float *cb_dp_last_coefs(const cb_dp *dp) {
  return dp->coef;
}

int cb_dp_begin_step(cb_dp *dp, const cb_dp_step_info *info) {
  cb_model *m = dp->m;
  dp->info = *info;
  dp->step_n = 0;
  dp->step_clipped = 0;
  dp->step_unclipped = 0;
  dp->step_loss = 0.0;
  dp->step_canaries = 0.0;
  m->be->zero(m->be, m->grads, (size_t)m->n_params * sizeof(float));
  if (dp->cfg.mode == CB_CLIP_RS) {
    int period = cb_rs_period(&dp->cfg, info);
    if (period != dp->mask_period) {
      dp->mask_rate = cb_rs_rate(&dp->cfg, period);
      cb_rs_mask(dp->cfg.seed, period, dp->mask_rate, m->n_params, dp->keep_host, dp->perm);
      m->be->upload(m->be, dp->keep_dev, dp->keep_host, (size_t)m->n_params);
      dp->mask_period = period;
    }
  }
  return m->be->status(m->be);
}
