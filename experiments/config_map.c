/* From a resolved experiment to the core's configuration structs. The
 * experiment's enums are the core's (same order; test_config checks the
 * spellings), so the mapping is field by field. */
#include "experiments/config.h"

#include <math.h>

_Static_assert(CB_OPT_SGD == (int)CB_OPTIM_SGD && CB_OPT_ADAM == (int)CB_OPTIM_ADAM &&
                   CB_OPT_ADAMW == (int)CB_OPTIM_ADAMW,
               "experiment optimizers follow core/optim");
_Static_assert(CB_SCOPE_PER_LAYER == 1, "automatic scope maps to per_layer_scope");

void cb_exp_dp_cfg(const cb_experiment *e, cb_dp_cfg *c) {
  cb_dp_cfg_default(c);
  c->mode = (cb_clip_mode)e->dp.clipping;
  c->seed = (uint64_t)e->seed;
  c->epochs = e->train.epochs;
  if (e->dp.clipping == CB_CLIP_NONE) return;
  c->clip_bound =
      e->dp.clipping == CB_CLIP_ADAPTIVE ? e->dp.adaptive.initial_bound : e->dp.clip_bound;
  c->noise_multiplier = e->dp.noise_multiplier; /* NaN with target_epsilon */
  c->secure_mode = e->dp.secure_mode;
  c->norm_rule = (cb_norm_rule)e->dp.norm_rule;
  c->group_by = (cb_group_by)e->dp.per_layer.group_by;
  c->thresholds = (cb_threshold_rule)e->dp.per_layer.thresholds;
  c->per_layer_scope =
      e->dp.clipping == CB_CLIP_AUTOMATIC && e->dp.automatic.scope == CB_SCOPE_PER_LAYER;
  c->auto_variant = (cb_auto_variant)e->dp.automatic.variant;
  c->auto_gamma = e->dp.automatic.variant == CB_AUTO_V ? 0 : e->dp.automatic.gamma;
  c->rs_final_rate = e->dp.sparsification.final_rate;
  c->rs_refresh = e->dp.sparsification.refresh;
  c->ad_target_quantile = e->dp.adaptive.target_quantile;
  c->ad_lr = e->dp.adaptive.lr;
  c->ad_count_std = e->dp.adaptive.count_std;
}

void cb_exp_optim_cfg(const cb_experiment *e, cb_optim_cfg *c) {
  cb_optim_cfg_default(c, (cb_optim_kind)e->train.optimizer);
  c->lr = e->train.lr;
  c->weight_decay = e->train.weight_decay;
  if (e->train.optimizer == CB_OPT_SGD) {
    c->momentum = e->train.momentum;
    c->nesterov = e->train.nesterov;
  } else {
    c->beta1 = e->train.betas[0];
    c->beta2 = e->train.betas[1];
    c->eps = e->train.eps;
  }
}

void cb_exp_loss_cfg(const cb_experiment *e, cb_loss_cfg *c) {
  c->w_ce = (float)e->loss.ce_weight;
  c->w_dice = (float)e->loss.dice_weight;
  c->smooth = (float)e->loss.dice_smooth;
  c->batch = e->loss.reduction == CB_LOSS_REDUCTION_BATCH;
  c->softmax_input = c->batch && e->loss.softmax_input == 1;
}
