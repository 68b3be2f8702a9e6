/* cb_epsilon, the noise-multiplier search and the step conventions. */
#include "core/privacy/accountant.h"

#include "core/base/error.h"
#include "core/privacy/gdp.h"
#include "core/privacy/pld.h"
#include "core/privacy/prv.h"
#include "core/privacy/rdp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const CB_ACC_NAMES[] = {"rdp", "prv", "gdp", "pld", NULL};

const char *cb_accountant_name(cb_accountant a) {
  return a >= 0 && a < CB_ACC_COUNT ? CB_ACC_NAMES[a] : "?";
}

int cb_accountant_parse(const char *name, cb_accountant *a) {
  for (int i = 0; i < CB_ACC_COUNT; i++)
    if (name && strcmp(name, CB_ACC_NAMES[i]) == 0) {
      *a = (cb_accountant)i;
      return 0;
    }
  return cb_error("unknown accountant '%s' (choose rdp, prv, gdp or pld)", name ? name : "");
}

/* Opacus warns when the optimum is the first or last order: the bound could be
 * tightened with more orders (it is still valid). */
static const char *edge_note(double alpha) {
  if (alpha == CB_RDP_ORDERS[0] || alpha == CB_RDP_ORDERS[CB_RDP_N_ORDERS - 1])
    return "; optimal order at the end of the order list, so the bound is loose";
  return "";
}

static int check_history(const cb_history *h) {
  for (int i = 0; i < h->n; i++) {
    const cb_segment *s = &h->seg[i];
    if (!isfinite(s->sigma) || s->sigma < 0 || !(s->q >= 0 && s->q <= 1) || s->steps < 0)
      return cb_error("accountant history segment %d is invalid (sigma %g, q %g, steps %lld)", i,
                      s->sigma, s->q, s->steps);
  }
  return 0;
}

static void fill_rdp(const cb_history *h, double delta, cb_eps_result *r) {
  cb_rdp_epsilon(h, delta, &r->epsilon, &r->alpha);
  r->accountant = CB_ACC_RDP;
  r->is_guarantee = 1;
}

int cb_epsilon(const cb_history *h, cb_accountant acc, double delta, cb_eps_result *r) {
  memset(r, 0, sizeof *r);
  r->delta = delta;
  r->alpha = NAN;
  r->requested = acc;
  r->accountant = acc;
  if (!(delta > 0 && delta < 1)) return cb_error("delta must be in (0, 1), got %g", delta);
  if (acc < 0 || acc >= CB_ACC_COUNT) return cb_error("unknown accountant %d", (int)acc);
  if (check_history(h)) return -1;
  /* Nothing spent: Opacus returns 0 for an empty history (its conversion of
   * an all-zero RDP vector would give ~0.1). q = 0 steps touch no example. */
  int active = 0;
  for (int i = 0; i < h->n; i++)
    active |= h->seg[i].steps > 0 && h->seg[i].q > 0;
  if (!active) {
    r->epsilon = 0;
    r->is_guarantee = acc != CB_ACC_GDP;
    snprintf(r->note, sizeof r->note, "no private steps yet");
    return 0;
  }
  switch (acc) {
  case CB_ACC_RDP:
    fill_rdp(h, delta, r);
    snprintf(r->note, sizeof r->note, "upper bound (RDP, Balle et al. conversion)%s",
             edge_note(r->alpha));
    return 0;
  case CB_ACC_PRV: {
    cb_prv_info info;
    char why[CB_EPS_NOTE_MAX - 64];
    if (cb_prv_epsilon(h, delta, 0, 0, &info, why, sizeof why) == 0) {
      r->epsilon = info.eps_upper;
      r->is_guarantee = 1;
      snprintf(r->note, sizeof r->note, "upper bound (PRV, eps_error %g)", CB_PRV_EPS_ERROR);
      return 0;
    }
    fill_rdp(h, delta, r);
    snprintf(r->note, sizeof r->note, "PRV not computable (%s); epsilon is the RDP bound%s", why,
             edge_note(r->alpha));
    return 0;
  }
  case CB_ACC_PLD: {
    cb_pld_info info;
    char why[CB_EPS_NOTE_MAX - 64];
    if (cb_pld_epsilon(h, delta, CB_PLD_INTERVAL, &r->epsilon, &info, why, sizeof why) == 0) {
      r->is_guarantee = 1;
      snprintf(r->note, sizeof r->note,
               "upper bound (PLD, pessimistic, interval %g; worse of add/remove: %s)",
               CB_PLD_INTERVAL, info.eps_add > info.eps_remove ? "add" : "remove");
      return 0;
    }
    fill_rdp(h, delta, r);
    snprintf(r->note, sizeof r->note, "PLD not computable (%s); epsilon is the RDP bound%s", why,
             edge_note(r->alpha));
    return 0;
  }
  case CB_ACC_GDP:
  default:
    r->epsilon = cb_gdp_eps_from_mu(cb_gdp_mu(h), delta);
    r->accountant = CB_ACC_GDP;
    r->is_guarantee = 0;
    snprintf(r->note, sizeof r->note, "approximation (GDP/CLT), not a guarantee");
    return 0;
  }
}

int cb_delta_pld(const cb_history *h, double epsilon, double *delta) {
  *delta = NAN;
  if (!(epsilon >= 0) || isinf(epsilon))
    return cb_error("epsilon must be a finite number >= 0, got %g", epsilon);
  if (check_history(h)) return -1;
  char why[CB_EPS_NOTE_MAX];
  if (cb_pld_delta(h, epsilon, CB_PLD_INTERVAL, delta, NULL, why, sizeof why))
    return cb_error("PLD delta at epsilon %g: %s", epsilon, why);
  return 0;
}

static int eps_of(double sigma, double q, long long steps, double delta, cb_accountant acc,
                  cb_eps_result *r) {
  cb_segment s = {sigma, q, steps};
  cb_history h = {&s, 1, 1};
  return cb_epsilon(&h, acc, delta, r);
}

int cb_sigma_search_tol(double q, long long steps, double delta, double target, cb_accountant acc,
                        double tol, cb_sigma_result *out) {
  memset(out, 0, sizeof *out);
  out->sigma = NAN;
  if (!(q > 0 && q <= 1)) return cb_error("sampling rate must be in (0, 1], got %g", q);
  if (steps <= 0) return cb_error("the number of steps must be positive, got %lld", steps);
  if (!(delta > 0 && delta < 1)) return cb_error("delta must be in (0, 1), got %g", delta);
  if (!(target > 0) || !isfinite(target))
    return cb_error("target epsilon must be a positive number, got %g", target);
  if (!(tol > 0) || !isfinite(tol)) return cb_error("tolerance must be positive, got %g", tol);
  cb_eps_result hi_r, mid_r;
  double lo = 0, hi = 10;
  hi_r.epsilon = INFINITY;
  /* Opacus's loop: double until epsilon <= target. */
  while (!(hi_r.epsilon <= target)) {
    hi *= 2;
    if (eps_of(hi, q, steps, delta, acc, &hi_r)) return -1;
    out->evaluations++;
    if (hi > CB_SIGMA_MAX)
      return cb_error("target epsilon %g is out of reach: even sigma = %g gives %g at delta %g; "
                      "raise the target or delta, or take fewer steps",
                      target, hi, hi_r.epsilon, delta);
  }
  /* Invariant: epsilon(hi) < target. Bisection keeps it, so never overshoots. */
  while (target - hi_r.epsilon > tol) {
    double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break; /* interval exhausted in double */
    if (eps_of(mid, q, steps, delta, acc, &mid_r)) return -1;
    out->evaluations++;
    if (mid_r.epsilon < target) {
      hi = mid;
      hi_r = mid_r;
    } else {
      lo = mid;
    }
  }
  out->sigma = hi;
  out->eps = hi_r;
  return 0;
}

int cb_sigma_search(double q, long long steps, double delta, double target, cb_accountant acc,
                    cb_sigma_result *out) {
  return cb_sigma_search_tol(q, steps, delta, target, acc, CB_SIGMA_TOLERANCE, out);
}

const char *const CB_Q_RULE_NAMES[] = {"batch_over_n", "opacus", NULL};

long long cb_steps_per_epoch(long long batch_size, long long dataset_size) {
  if (batch_size <= 0 || dataset_size <= 0) return -1;
  return dataset_size / batch_size + (dataset_size % batch_size != 0);
}

double cb_sample_rate(cb_q_rule rule, long long batch_size, long long dataset_size) {
  if (batch_size <= 0 || dataset_size <= 0) return NAN;
  if (rule == CB_QRULE_OPACUS) return 1.0 / (double)cb_steps_per_epoch(batch_size, dataset_size);
  return batch_size >= dataset_size ? 1.0 : (double)batch_size / (double)dataset_size;
}

double cb_expected_batch(cb_q_rule rule, double q, long long dataset_size) {
  double b = q * (double)dataset_size;
  /* Opacus: expected_batch_size = int(len(dataset) * sample_rate), the same
   * double product truncated (66 / 7 = 9.43 -> 9); never below one image. */
  if (rule == CB_QRULE_OPACUS) b = floor(b) < 1.0 ? 1.0 : floor(b);
  return b;
}

double cb_sample_rate_for_batch(long long batch_size, long long dataset_size) {
  return cb_sample_rate(CB_QRULE_OPACUS, batch_size, dataset_size);
}

long long cb_steps_for_epochs(double epochs, double q) {
  if (!(epochs > 0) || !isfinite(epochs) || !(q > 0 && q <= 1)) return -1;
  double x = epochs / q;
  if (!(x < 9.0e15)) return -1;
  double r = nearbyint(x);
  if (fabs(x - r) <= 1e-9 * x) return r < 1 ? 1 : (long long)r;
  return (long long)ceil(x);
}
