/* Options shared by `clipbench epsilon` and `clipbench sigma`: how the
 * sampling rate and the number of steps are given, delta, which accountants,
 * and the output format. */
#ifndef CB_CLI_PRIVACY_OPTS_H
#define CB_CLI_PRIVACY_OPTS_H

#include "core/base/cli.h"

/* Index into CB_PRIVACY_ACC_CHOICES; CB_PRIVACY_ALL selects every accountant. */
extern const char *const CB_PRIVACY_ACC_CHOICES[];
#define CB_PRIVACY_ALL 4

/* The rule printed in --help and the README. */
#define CB_PRIVACY_STEP_RULE                                                                    \
  "Sampling: --sample-rate Q, or --batch-size B with --dataset-size N, which gives q = B/N "    \
  "(Poisson sampling with expected batch B, what clipbench run does by default), or with "      \
  "--sample-rate-rule opacus Opacus's q = 1/len(loader) = 1/ceil(N/B) (the experiment key "     \
  "dp.sample_rate). Steps: --steps T, or --epochs E: with B and N an epoch is ceil(N/B) steps " \
  "(as clipbench run), so T = E*ceil(N/B); with --sample-rate T = ceil(E/q), a quotient "       \
  "within 1e-9 of an integer counting as that integer (90 epochs at q = 0.04 are 2250 steps "   \
  "as in Opacus's int(E/q)). One step = one logical (Poisson-sampled) batch."

typedef struct {
  double sample_rate;
  long long batch_size, dataset_size;
  long long steps;
  double epochs;
  double delta;
  int accountant; /* index into CB_PRIVACY_ACC_CHOICES */
  int rule;       /* cb_q_rule: how B and N give q */
  int json, time;
  /* resolved */
  double q;
  long long T;
  char how[160]; /* how q and T were derived, for the human output */
} cb_privacy_opts;

void cb_privacy_opts_add(cb_cli *c, cb_privacy_opts *o);
/* Validates the options and fills q, T and how. Returns -1 (cb_error set) on
 * missing, conflicting or out-of-range values. */
int cb_privacy_opts_resolve(const cb_cli *c, cb_privacy_opts *o);
/* Formats epsilon for people: inf spelled out, 6 significant digits. */
const char *cb_privacy_fmt(double x, char *buf, int n);

#endif
