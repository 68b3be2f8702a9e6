/* Optimizers over a model's flat parameter and gradient buffers, with the
 * semantics of torch.optim (SGD with momentum, dampening 0 and optional
 * Nesterov; Adam; AdamW), weight decay included, so a PyTorch run with the
 * same hyper-parameters takes the same steps. The state lives on the
 * backend, laid out like the parameters (one flat buffer per slot), so a
 * checkpoint can store it per parameter tensor. */
#ifndef CB_OPTIM_OPTIM_H
#define CB_OPTIM_OPTIM_H

#include "core/backend/backend.h"

#include <stdint.h>

typedef enum { CB_OPTIM_SGD = 0, CB_OPTIM_ADAM, CB_OPTIM_ADAMW } cb_optim_kind;
extern const char *const CB_OPTIM_NAMES[]; /* "sgd", "adam", "adamw", NULL */

typedef struct {
  cb_optim_kind kind;
  double lr;           /* the default; cb_optim_step takes the current one */
  double momentum;     /* SGD */
  int nesterov;        /* SGD, needs momentum > 0 */
  double weight_decay; /* SGD/Adam: added to the gradient; AdamW: decoupled */
  double beta1, beta2, eps;
} cb_optim_cfg;

/* torch.optim's defaults for the kind (AdamW: weight decay 0.01). */
void cb_optim_cfg_default(cb_optim_cfg *c, cb_optim_kind kind);
int cb_optim_cfg_validate(const cb_optim_cfg *c);

#define CB_OPTIM_MAX_SLOTS 2

typedef struct cb_optim {
  const cb_backend *be;
  cb_optim_cfg cfg;
  int64_t n;     /* parameters */
  int64_t steps; /* updates taken (torch's `step` state) */
  int n_slots;   /* SGD with momentum 1, Adam(W) 2, plain SGD 0 */
  float *slot[CB_OPTIM_MAX_SLOTS];
} cb_optim;

/* State zeroed, steps = 0. NULL with cb_error set on failure. */
cb_optim *cb_optim_create(const cb_backend *be, const cb_optim_cfg *cfg, int64_t n_params);
void cb_optim_free(cb_optim *o);

/* One update: params -= ... from grads (both n floats on the backend). */
void cb_optim_step(cb_optim *o, float *params, const float *grads, double lr);

/* PyTorch's names of the state slots: "momentum_buffer"; "exp_avg",
 * "exp_avg_sq". */
const char *cb_optim_slot_name(const cb_optim *o, int k);

#endif
