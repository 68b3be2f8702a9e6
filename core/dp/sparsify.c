/* Random sparsification masks (Zhu & Blaschko, TMLR 2023): one coordinate
 * mask shared by every sample, redrawn only at logical-step boundaries, with
 * a linearly "cooling" rate. The mask is data-independent, so it costs no
 * privacy. */
#include "core/dp/dp.h"
#include "core/kernels/philox.h"

#include <math.h>

int cb_rs_period(const cb_dp_cfg *c, const cb_dp_step_info *info) {
  int refresh = c->rs_refresh > 0 ? c->rs_refresh : 1;
  int spe = c->steps_per_epoch > 0 ? c->steps_per_epoch : 1;
  /* Mask k of an epoch covers steps [k*spe/refresh, (k+1)*spe/refresh). */
  int within = (int)((long long)info->step_in_epoch * refresh / spe);
  if (within >= refresh) within = refresh - 1;
  return info->epoch * refresh + within;
}

double cb_rs_rate(const cb_dp_cfg *c, int period) {
  int periods = (c->rs_refresh > 0 ? c->rs_refresh : 1) * (c->epochs > 0 ? c->epochs : 1);
  if (periods <= 1) return c->rs_final_rate;
  double r = c->rs_final_rate * (double)period / (double)(periods - 1);
  return r < 0.0 ? 0.0 : r > c->rs_final_rate ? c->rs_final_rate : r;
}

void cb_rs_mask(uint64_t seed, int period, double rate, int64_t P, unsigned char *keep,
                uint32_t *perm) {
  int64_t drop = (int64_t)floor(rate * (double)P);
  for (int64_t j = 0; j < P; j++) {
    keep[j] = 1;
    perm[j] = (uint32_t)j;
  }
  /* The first `drop` entries of a partial Fisher-Yates shuffle. */
  for (int64_t i = 0; i < drop; i++) {
    double u = cb_uniform(seed, CB_STREAM_MASK, (uint32_t)period, (uint64_t)i);
    int64_t j = i + (int64_t)((1.0 - u) * (double)(P - i)); /* u in (0,1] */
    if (j >= P) j = P - 1;
    uint32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    keep[perm[i]] = 0;
  }
}
