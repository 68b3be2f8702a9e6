#include "core/optim/optim.h"

#include "core/base/error.h"

#include <math.h>
#include <stdlib.h>

const char *const CB_OPTIM_NAMES[] = {"sgd", "adam", "adamw", NULL};

void cb_optim_cfg_default(cb_optim_cfg *c, cb_optim_kind kind) {
  c->kind = kind;
  c->lr = kind == CB_OPTIM_SGD ? 0.01 : 1e-3;
  c->momentum = 0.0;
  c->nesterov = 0;
  c->weight_decay = kind == CB_OPTIM_ADAMW ? 0.01 : 0.0;
  c->beta1 = 0.9;
  c->beta2 = 0.999;
  c->eps = 1e-8;
}

int cb_optim_cfg_validate(const cb_optim_cfg *c) {
  if (c->kind != CB_OPTIM_SGD && c->kind != CB_OPTIM_ADAM && c->kind != CB_OPTIM_ADAMW)
    return cb_error("optimizer must be sgd, adam or adamw");
  if (!(c->lr >= 0.0) || !isfinite(c->lr))
    return cb_error("learning rate must be finite and >= 0, got %g", c->lr);
  if (!(c->weight_decay >= 0.0) || !isfinite(c->weight_decay))
    return cb_error("weight_decay must be finite and >= 0, got %g", c->weight_decay);
  if (c->kind == CB_OPTIM_SGD) {
    if (!(c->momentum >= 0.0 && c->momentum < 1.0))
      return cb_error("momentum must be in [0, 1), got %g", c->momentum);
    if (c->nesterov && c->momentum == 0.0)
      return cb_error("Nesterov momentum needs momentum > 0 (as in torch.optim.SGD)");
  } else {
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0) || !(c->beta2 >= 0.0 && c->beta2 < 1.0))
      return cb_error("Adam betas must be in [0, 1), got %g and %g", c->beta1, c->beta2);
    if (!(c->eps > 0.0)) return cb_error("Adam eps must be > 0, got %g", c->eps);
  }
  return 0;
}

cb_optim *cb_optim_create(const cb_backend *be, const cb_optim_cfg *cfg, int64_t n_params) {
  if (cb_optim_cfg_validate(cfg)) return NULL;
  cb_optim *o = cb_calloc(1, sizeof *o, "optimizer");
  if (!o) return NULL;
  o->be = be;
  o->cfg = *cfg;
  o->n = n_params;
  o->n_slots = cfg->kind == CB_OPTIM_SGD ? (cfg->momentum != 0.0) : 2;
  for (int k = 0; k < o->n_slots; k++) {
    o->slot[k] = be->alloc(be, (size_t)n_params * sizeof(float), "optimizer state");
    if (!o->slot[k]) {
      cb_optim_free(o);
      return NULL;
    }
    be->zero(be, o->slot[k], (size_t)n_params * sizeof(float));
  }
  return o;
}

void cb_optim_free(cb_optim *o) {
  if (!o) return;
  for (int k = 0; k < CB_OPTIM_MAX_SLOTS; k++)
    if (o->slot[k]) o->be->free(o->be, o->slot[k]);
  free(o);
}

const char *cb_optim_slot_name(const cb_optim *o, int k) {
  if (k < 0 || k >= o->n_slots) return NULL;
  if (o->cfg.kind == CB_OPTIM_SGD) return "momentum_buffer";
  return k == 0 ? "exp_avg" : "exp_avg_sq";
}

void cb_optim_step(cb_optim *o, float *params, const float *grads, double lr) {
  const cb_optim_cfg *c = &o->cfg;
  if (c->kind == CB_OPTIM_SGD) {
    cb_launch_sgd(o->be, o->n,
                  (cb_k_sgd){params, o->slot[0], grads, (float)lr, (float)c->momentum,
                             (float)c->weight_decay, c->nesterov, o->steps == 0});
  } else {
    double t = (double)(o->steps + 1);
    double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
    int decoupled = c->kind == CB_OPTIM_ADAMW;
    cb_launch_adam(o->be, o->n,
                   (cb_k_adam){params, o->slot[0], o->slot[1], grads, (float)(1.0 - c->beta1),
                               (float)c->beta2, (float)(1.0 - c->beta2), (float)c->eps,
                               decoupled ? 0.0f : (float)c->weight_decay,
                               (float)(1.0 - lr * c->weight_decay), (float)(lr / bc1),
                               (float)sqrt(bc2), decoupled});
  }
  o->steps++;
}
