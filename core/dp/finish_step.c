/* Noise, scaling and the adaptive bound update at the end of a logical step. */
#include "core/base/error.h"
#include "core/dp/engine_internal.h"
#include "core/kernels/philox.h"

#include <math.h>

/* The adaptive bound: the noisy fraction of unclipped samples moves C
 * geometrically towards the target quantile (Andrew et al. 2021; TF-Privacy
 * QuantileAdaptiveClipSumQuery). The count uses the shifted sum of
 * (b_i - 1/2), sensitivity 1/2, and the expected batch size. */
double cb_adaptive_next_bound(double C, double unclipped, int n, double expected, double noise,
                              double lr, double target) {
  double frac = (unclipped - 0.5 * n + noise) / expected + 0.5;
  frac = frac < 0.0 ? 0.0 : frac > 1.0 ? 1.0 : frac;
  return C * exp(-lr * (frac - target));
}

static void adaptive_update(cb_dp *dp) {
  const cb_dp_cfg *c = &dp->cfg;
  double z = dp->cfg.noise_multiplier > 0
                 ? cb_gauss(c->seed, CB_STREAM_COUNT, dp->info.step, 0) * dp->count_std
                 : 0.0;
  /* Gradient canaries are samples of the step like any other. */
  int n = dp->step_n + (int)dp->step_canaries;
  cb_dp_set_clip_bound(dp, cb_adaptive_next_bound(dp->clip_bound, dp->step_unclipped, n,
                                                  c->expected_batch, z, c->ad_lr,
                                                  c->ad_target_quantile));
}

int cb_dp_finish_step(cb_dp *dp, cb_dp_step_result *out) {
  cb_model *m = dp->m;
  const cb_dp_cfg *c = &dp->cfg;
  cb_dp_step_result r = {0};
  r.n_samples = dp->step_n;
  r.clip_bound = dp->clip_bound;
  r.loss_sum = dp->step_loss;
  r.sparsity_rate = c->mode == CB_CLIP_RS ? dp->mask_rate : 0.0;
  r.frac_clipped = dp->step_n ? (double)dp->step_clipped / dp->step_n : 0.0;
  for (int k = 0; k < CB_NPCT; k++)
    r.norm_pct[k] = dp->step_n && dp->cfg.mode != CB_CLIP_NONE
                        ? cb_percentile(dp->step_norms, dp->step_n, CB_PERCENTILES[k])
                        : NAN;
  if (c->mode == CB_CLIP_NONE) {
    /* Non-private: the mean gradient of the realised batch (gradient
     * canaries included, as samples of the batch). */
    double n = dp->step_n + dp->step_canaries;
    if (n > 0) cb_launch_scale(m->be, m->n_params, (cb_k_scale){m->grads, 1.0f / (float)n});
    if (dp->cfg.record_norms)
      for (int k = 0; k < CB_NPCT; k++)
        r.norm_pct[k] =
            dp->step_n ? cb_percentile(dp->step_norms, dp->step_n, CB_PERCENTILES[k]) : NAN;
    if (out) *out = r;
    return m->be->status(m->be);
  }
  double std = cb_dp_noise_std(dp);
  r.noise_std = std;
  if (std > 0.0)
    cb_launch_noise(m->be, m->n_params,
                    (cb_k_noise){m->grads, dp->keep_dev, c->seed, dp->info.step, 0, (float)std,
                                 c->secure_mode});
  /* Divide by the expected batch size (not the realised one), so the
   * sensitivity of the average is C / (qN) whatever the sample drew. */
  cb_launch_scale(m->be, m->n_params, (cb_k_scale){m->grads, (float)(1.0 / c->expected_batch)});
  if (c->mode == CB_CLIP_ADAPTIVE) adaptive_update(dp);
  if (out) *out = r;
  return m->be->status(m->be);
}
