#include "core/cli/privacy_opts.h"

#include "core/base/error.h"
#include "core/privacy/accountant.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const CB_PRIVACY_ACC_CHOICES[] = {"rdp", "prv", "gdp", "pld", "all", NULL};

void cb_privacy_opts_add(cb_cli *c, cb_privacy_opts *o) {
  memset(o, 0, sizeof *o);
  o->accountant = CB_PRIVACY_ALL;
  cb_cli_add(c, "sample-rate", CB_OPT_DOUBLE, &o->sample_rate, "Q",
             "Poisson sampling rate q in (0, 1]");
  cb_cli_add(c, "batch-size", CB_OPT_LONG, &o->batch_size, "B",
             "expected batch size (with --dataset-size; q = B/N)");
  cb_cli_add(c, "dataset-size", CB_OPT_LONG, &o->dataset_size, "N", "number of training examples");
  cb_cli_add_choice(c, "sample-rate-rule", &o->rule, CB_Q_RULE_NAMES,
                    "how B and N give q: batch_over_n (B/N) or opacus (1/ceil(N/B))");
  cb_cli_add(c, "steps", CB_OPT_LONG, &o->steps, "T", "number of noisy steps (logical batches)");
  cb_cli_add(c, "epochs", CB_OPT_DOUBLE, &o->epochs, "E",
             "number of epochs (T = E*ceil(N/B), or ceil(E/q) with --sample-rate)");
  cb_cli_add(c, "delta", CB_OPT_DOUBLE, &o->delta, "D", "target delta in (0, 1), e.g. 1e-5");
  cb_cli_add_choice(c, "accountant", &o->accountant, CB_PRIVACY_ACC_CHOICES,
                    "accountant(s) to run (all)");
  cb_cli_add(c, "json", CB_OPT_FLAG, &o->json, NULL, "one JSON object per accountant and line");
  cb_cli_add(c, "time", CB_OPT_FLAG, &o->time, NULL, "report the wall time of each computation");
}

int cb_privacy_opts_resolve(const cb_cli *c, cb_privacy_opts *o) {
  int has_q = cb_cli_given(c, "sample-rate"), has_b = cb_cli_given(c, "batch-size"),
      has_n = cb_cli_given(c, "dataset-size");
  if (has_q && (has_b || has_n))
    return cb_error("give either --sample-rate or --batch-size with --dataset-size, not both");
  if (!has_q && !has_b && !has_n)
    return cb_error("missing sampling rate: give --sample-rate Q, or --batch-size B with "
                    "--dataset-size N");
  if (cb_cli_given(c, "sample-rate-rule") && !has_b)
    return cb_error("--sample-rate-rule applies to --batch-size with --dataset-size, not to "
                    "--sample-rate");
  if (has_b != has_n)
    return cb_error("%s needs %s too", has_b ? "--batch-size" : "--dataset-size",
                    has_b ? "--dataset-size" : "--batch-size");
  long long len = 0;
  if (has_q) {
    if (!(o->sample_rate > 0 && o->sample_rate <= 1))
      return cb_error("--sample-rate must be in (0, 1], got %g", o->sample_rate);
    o->q = o->sample_rate;
  } else {
    if (o->batch_size <= 0)
      return cb_error("--batch-size must be positive, got %lld", o->batch_size);
    if (o->dataset_size <= 0)
      return cb_error("--dataset-size must be positive, got %lld", o->dataset_size);
    len = cb_steps_per_epoch(o->batch_size, o->dataset_size);
    o->q = cb_sample_rate((cb_q_rule)o->rule, o->batch_size, o->dataset_size);
  }
  int has_t = cb_cli_given(c, "steps"), has_e = cb_cli_given(c, "epochs");
  if (has_t && has_e) return cb_error("give either --steps or --epochs, not both");
  if (!has_t && !has_e) return cb_error("missing length: give --steps T or --epochs E");
  if (has_t) {
    if (o->steps <= 0) return cb_error("--steps must be a positive integer, got %lld", o->steps);
    o->T = o->steps;
  } else {
    if (!(o->epochs > 0) || !isfinite(o->epochs))
      return cb_error("--epochs must be a positive number, got %g", o->epochs);
    /* With B and N an epoch is ceil(N/B) logical steps, as in clipbench run,
     * whichever rule gave q; with q alone, 1/q steps. */
    o->T = cb_steps_for_epochs(o->epochs, has_q ? o->q : 1.0 / (double)len);
    if (o->T <= 0) return cb_error("--epochs %g at q = %g gives too many steps", o->epochs, o->q);
  }
  if (!cb_cli_given(c, "delta"))
    return cb_error("missing --delta D (e.g. 1e-5; it should be well below 1/N)");
  if (!(o->delta > 0 && o->delta < 1))
    return cb_error("--delta must be in (0, 1), got %g", o->delta);

  int k = 0;
  if (has_q)
    k = snprintf(o->how, sizeof o->how, "q = %.6g", o->q);
  else if (o->rule == CB_QRULE_OPACUS)
    k = snprintf(o->how, sizeof o->how, "q = 1/ceil(%lld/%lld) = 1/%lld = %.6g (opacus)",
                 o->dataset_size, o->batch_size, len, o->q);
  else
    k = snprintf(o->how, sizeof o->how, "q = %lld/%lld = %.6g", o->batch_size, o->dataset_size,
                 o->q);
  if (k < 0 || (size_t)k >= sizeof o->how) k = (int)strlen(o->how);
  if (has_e)
    snprintf(o->how + k, sizeof o->how - (size_t)k, ", %lld steps (%g epochs)", o->T, o->epochs);
  else
    snprintf(o->how + k, sizeof o->how - (size_t)k, ", %lld steps", o->T);
  return 0;
}

const char *cb_privacy_fmt(double x, char *buf, int n) {
  if (isinf(x))
    snprintf(buf, (size_t)n, "inf");
  else if (isnan(x))
    snprintf(buf, (size_t)n, "-");
  else
    snprintf(buf, (size_t)n, "%.6g", x);
  return buf;
}
