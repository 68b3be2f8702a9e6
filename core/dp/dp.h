/* The DP-SGD engine: true per-sample clipping in every mode, noise, and the
 * statistics that answer "how large are my gradients compared to C?".
 *
 * One logical step (one Poisson batch, one noise draw, one accountant step):
 *
 *   cb_dp_begin_step(dp, &info)
 *   for each physical chunk of <= max_physical_batch images:
 *       upload images/labels; cb_model_forward; cb_model_loss; cb_model_backward
 *       cb_dp_accumulate(dp, n)       per-sample norms, clip, add sum_i c_i g_i
 *   cb_dp_finish_step(dp, &result)    noise, divide by the expected batch size
 *   optimizer step on m->grads
 *
 * Per-sample gradients use book-keeping: the activations and output
 * gradients of the single backward pass are kept, and each parameterised
 * layer either materialises g_i (one GEMM per image, the cost of the ordinary
 * weight gradient) or computes the ghost norm <A_i A_i^T, B_i B_i^T> when
 * 2T^2 < p*d (the mixed rule); the clipped sum is then one reweighted GEMM
 * per layer (ghost layers) or a weighted sum of the stored rows. */
#ifndef CB_DP_DP_H
#define CB_DP_DP_H

#include "core/nn/model.h"

#include <stdint.h>

typedef enum {
  CB_CLIP_NONE = 0,  /* non-private: mean gradient, no noise */
  CB_CLIP_FLAT,      /* Abadi: one bound C on the whole per-sample gradient */
  CB_CLIP_PER_LAYER, /* a bound per parameter tensor (or per layer), Opacus semantics */
  CB_CLIP_AUTOMATIC, /* AUTO-S R/(|g|+gamma) or AUTO-V R/|g| (Bu et al.) */
  CB_CLIP_RS,        /* random sparsification (Zhu & Blaschko) + flat clipping */
  CB_CLIP_ADAPTIVE,  /* quantile clipping (Andrew et al., TF-Privacy variant) */
} cb_clip_mode;

extern const char
    *const CB_CLIP_NAMES[]; /* none flat per_layer automatic random_sparsification adaptive */

typedef enum { CB_NORM_MIXED = 0, CB_NORM_GHOST, CB_NORM_MATERIALISE } cb_norm_rule;
extern const char *const CB_NORM_RULE_NAMES[]; /* mixed ghost materialise */

typedef enum { CB_GROUP_TENSOR = 0, CB_GROUP_LAYER } cb_group_by;
extern const char *const CB_GROUP_BY_NAMES[]; /* tensor layer */

typedef enum {
  CB_THRESH_SAME = 0, /* every group gets C (Opacus [C]*K: total bound C*sqrt(K)) */
  CB_THRESH_SPLIT     /* every group gets C/sqrt(K) (fastDP: total bound C) */
} cb_threshold_rule;
extern const char *const CB_THRESHOLD_NAMES[]; /* same split */

typedef enum { CB_AUTO_S = 0, CB_AUTO_V } cb_auto_variant;
extern const char *const CB_AUTO_NAMES[]; /* auto_s auto_v */

typedef struct {
  cb_clip_mode mode;
  double clip_bound;       /* C (R for automatic; initial bound for adaptive) */
  double noise_multiplier; /* sigma; the accountant's noise multiplier */
  double expected_batch;   /* q * N: the divisor of the noisy sum */
  uint64_t seed;           /* noise, masks and count noise */
  int secure_mode;         /* OS-seeded key and rounding-resistant sampler */
  cb_norm_rule norm_rule;
  /* per_layer / automatic with per-layer scope */
  cb_group_by group_by;
  cb_threshold_rule thresholds;
  int per_layer_scope; /* automatic: 1 = per group, 0 = all layers */
  /* automatic */
  cb_auto_variant auto_variant;
  double auto_gamma; /* 0.01 */
  /* random sparsification */
  double rs_final_rate;
  int rs_refresh;      /* masks per epoch */
  int epochs;          /* total epochs (rate schedule) */
  int steps_per_epoch; /* logical steps per epoch (mask periods) */
  /* adaptive */
  double ad_target_quantile; /* fraction that should be unclipped (0.5) */
  double ad_lr;              /* geometric update rate (0.2) */
  double ad_count_std;       /* sigma_b; 0 = max(expected_batch / 20, sigma) */
  /* Record per-sample norms in non-private mode too (costs the norms). */
  int record_norms;
} cb_dp_cfg;

void cb_dp_cfg_default(cb_dp_cfg *c);

/* Where a logical step sits in training (resumable: everything random is a
 * function of these and the seed). */
typedef struct {
  uint32_t step; /* global logical step index from 0 */
  int epoch;     /* 0-based */
  int step_in_epoch;
} cb_dp_step_info;

#define CB_NPCT 7
extern const double CB_PERCENTILES[CB_NPCT]; /* 10 25 50 75 90 99 100 */

typedef struct {
  int n_samples;            /* realised batch size */
  double clip_bound;        /* bound in force during the step */
  double noise_std;         /* std of the noise added to the sum */
  double frac_clipped;      /* samples whose gradient exceeded the bound */
  double norm_pct[CB_NPCT]; /* percentiles of pre-clip total norms */
  double sparsity_rate;     /* random sparsification: fraction dropped */
  double loss_sum;          /* sum of per-image losses */
} cb_dp_step_result;

typedef struct cb_dp cb_dp;

/* Plans the engine for model m (validated: every parameter tensor of m is
 * covered by a clipping group, otherwise it refuses with an error). */
cb_dp *cb_dp_create(cb_model *m, const cb_dp_cfg *cfg);
void cb_dp_free(cb_dp *dp);

/* The three step functions return -1 with cb_error set when a backend
 * operation failed since the model was allocated (be->status: a CUDA error),
 * so a training loop that checks them never continues on garbage. */
int cb_dp_begin_step(cb_dp *dp, const cb_dp_step_info *info);
/* After forward, loss and backward of n images (n may be 0). */
int cb_dp_accumulate(cb_dp *dp, int n);
/* Adds noise and scales: m->grads then holds the privatised gradient. */
int cb_dp_finish_step(cb_dp *dp, cb_dp_step_result *out);

/* Privacy audit, gradient canaries (core/dp/canary.c). Canary k's crafted
 * per-sample gradient is value[k] at parameter coordinate coord[k] and zero
 * elsewhere (coordinates distinct). cb_dp_add_canaries, called between
 * cb_dp_begin_step and cb_dp_finish_step, adds canaries which[0..n) to the
 * step as samples of the batch: the same norm, clipping factor (per mode and
 * group), random-sparsification mask and adaptive count as a real sample,
 * and the same noise; they are left out of the norm statistics, which
 * describe the real data. */
int cb_dp_set_canaries(cb_dp *dp, int n, const int64_t *coord, const float *value);
int cb_dp_add_canaries(cb_dp *dp, const int *which, int n);

/* Noise std on each coordinate of the summed gradient for the current
 * bound: sigma * sqrt(sum_k C_k^2) (adaptive: sigma_delta * C_t). */
double cb_dp_noise_std(const cb_dp *dp);
/* Current clipping bound (adaptive changes it; restored from checkpoints). */
double cb_dp_clip_bound(const cb_dp *dp);
void cb_dp_set_clip_bound(cb_dp *dp, double c);
/* The noise multiplier to give the accountant for each step. */
double cb_dp_accounting_sigma(const cb_dp *dp);

/* Planning facts, for `clipbench grads`, bench and tests. */
int cb_dp_n_groups(const cb_dp *dp);
double cb_dp_group_bound(const cb_dp *dp, int g);
int cb_dp_tensor_group(const cb_dp *dp, int tensor);
int cb_dp_node_uses_ghost(const cb_dp *dp, int node);
size_t cb_dp_bytes(const cb_dp *dp);

/* Per-sample quantities of the last cb_dp_accumulate call (host arrays of
 * length n, or n x n_tensors): pre-clip squared norms per tensor and total,
 * and the clipping coefficient per tensor. */
const double *cb_dp_last_tensor_sqnorms(const cb_dp *dp);
const double *cb_dp_last_total_norms(const cb_dp *dp);
const float *cb_dp_last_coefs(const cb_dp *dp);

/* Epoch statistics: every sample's pre-clip total norm and every parameter
 * layer's per-sample norm since the last reset. */
void cb_dp_stats_reset(cb_dp *dp);
int cb_dp_stats_count(const cb_dp *dp);
void cb_dp_stats_percentiles(const cb_dp *dp, double out[CB_NPCT]);
double cb_dp_stats_frac_clipped(const cb_dp *dp);
/* Median per-sample norm of each parameterised node (layer) over the epoch;
 * out has one entry per node of the model (NaN for nodes without params). */
void cb_dp_stats_layer_medians(const cb_dp *dp, double *out);

/* Percentile of x[0..n) (linear interpolation, numpy's default); sorts x. */
double cb_percentile(double *x, int n, double pct);

/* Random sparsification: the rate of the mask period containing the step,
 * r_k = clip(r* k / (refresh*E - 1), 0, r*), and that period's index. */
int cb_rs_period(const cb_dp_cfg *c, const cb_dp_step_info *info);
double cb_rs_rate(const cb_dp_cfg *c, int period);
/* Draws the keep-mask of a period: exactly floor(rate*P) coordinates dropped,
 * chosen by a Philox-driven partial Fisher-Yates shuffle. keep[P] on host. */
void cb_rs_mask(uint64_t seed, int period, double rate, int64_t P, unsigned char *keep,
                uint32_t *scratch);

/* Poisson sampling: example j joins logical batch `step` with probability q,
 * decided by Philox at (seed, SAMPLE, step, j). Returns the count; idx must
 * hold N entries. */
int cb_poisson_batch(uint64_t seed, uint32_t step, int N, double q, int *idx);

/* Adaptive clipping (TF-Privacy): the gradient noise multiplier corrected
 * for the count noise, z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2; error if
 * 2 sigma_b <= z. */
int cb_adaptive_sigma_delta(double z, double sigma_b, double *out);

/* One geometric update of the adaptive bound from `unclipped` of n samples
 * (|g| <= C) plus count noise `noise` (already scaled by sigma_b). */
double cb_adaptive_next_bound(double C, double unclipped, int n, double expected, double noise,
                              double lr, double target);

/* A 64-bit key from the operating system (getrandom), for secure mode. */
int cb_os_seed(uint64_t *out);

#endif
