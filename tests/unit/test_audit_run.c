/* The privacy audit in one training run, end to end on tiny models: it
 * finds the absence of privacy, stays under the accountant's epsilon in every
 * private mode, and catches a layer that escapes clipping (a test-only fault
 * injected into the DP engine). */
#include "core/base/error.h"
#include "core/dp/engine_internal.h"
#include "experiments/config.h"
#include "experiments/trainer.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared by every run: a tiny U-Net on 16x16 synthetic scans, 48 images
 * (28 for training), 3 epochs of Poisson batches of 8 (q = 2/7, 12 steps). */
static const char BASE[] = "data: {size: [16, 16], count: 48}\n"
                           "model: {width: 4, depth: 2}\n"
                           "train: {epochs: 3, batch_size: 8, lr: 0.05}\n"
                           "threads: 1\n";

typedef struct {
  int canaries, guesses, correct;
  double lb, eps;
  int bug;
} outcome;

/* Trains the configuration BASE + extra (+ "seed: N") and audits it; with
 * a fault_layer name the fault removes that layer from clipping. */
static outcome run_text(const char *base, const char *extra, int seed, const char *fault_layer) {
  cb_experiment *e = malloc(sizeof *e);
  assert_non_null(e);
  cb_exp_init(e);
  char text[2048];
  snprintf(text, sizeof text, "%s%sseed: %d\n", base, extra, seed);
  if (cb_exp_load_string(e, text, "audit.yaml") || cb_exp_resolve(e))
    fail_msg("config: %s", cb_last_error());
  cb_trainer t;
  if (cb_trainer_setup(&t, e, "0123456789abcdef")) fail_msg("setup: %s", cb_last_error());
  if (fault_layer) {
    int node = -1;
    for (int i = 0; i < t.m->n_nodes; i++)
      if (strcmp(t.m->nodes[i].name, fault_layer) == 0) node = i;
    assert_true(node >= 0 && cb_node_is_param(&t.m->nodes[node]));
    cb_dp_test_fault_unclip(t.dp, node);
  }
  while (t.epochs_done < e->train.epochs) {
    cb_epoch_stats st;
    if (cb_trainer_epoch(&t, &st, NULL, NULL)) fail_msg("epoch: %s", cb_last_error());
    t.epochs_done++;
  }
  cb_audit_row r;
  if (cb_audit_finish(&t, &r)) fail_msg("audit: %s", cb_last_error());
  outcome o = {r.canaries, r.guesses, r.correct, r.epsilon_lb, r.epsilon, r.privacy_bug};
  print_message("%s sigma %g seed %d%s%s: %d of %d right, lower bound %.3f, accountant %.3f\n",
                CB_CLIPPING_NAMES[e->dp.clipping], t.sigma, seed, fault_layer ? ", fault in " : "",
                fault_layer ? fault_layer : "", o.correct, o.guesses, o.lb, o.eps);
  cb_trainer_free(&t);
  free(e);
  return o;
}

static outcome run(const char *extra, int seed, const char *fault_layer) {
  return run_text(BASE, extra, seed, fault_layer);
}

static void test_nonprivate_detected(void **state) {
  (void)state;
  outcome o = run("dp: {clipping: none}\naudit: {canaries: 1000, guesses: 100}\n", 0, NULL);
  /* Every guess right: the bound is what 100 guesses can show at 95%. */
  assert_int_equal(o.correct, 100);
  assert_true(o.lb > 3.4);
  assert_true(isnan(o.eps) && !o.bug);
  /* Input canaries: memorised by a wider model in 30 epochs, the loss
   * difference separates the included ones. */
  o = run_text("data: {size: [16, 16], count: 48}\n"
               "model: {width: 8, depth: 2}\n"
               "train: {epochs: 30, batch_size: 8, lr: 0.05, momentum: 0.9}\n"
               "threads: 1\n",
               "dp: {clipping: none}\naudit: {canaries: 60, kind: input, guesses: 15}\n", 0, NULL);
  assert_int_equal(o.correct, 15);
  assert_true(o.lb > 1.4);
}

static void test_private_below_accountant(void **state) {
  (void)state;
  static const char *const modes[] = {
      "flat", "per_layer", "automatic", "random_sparsification", "adaptive",
  };
  int lb_positive = 0;
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    for (int seed = 0; seed < 2; seed++) {
      char extra[256];
      snprintf(extra, sizeof extra,
               "dp: {clipping: %s, noise_multiplier: 3.0, accountants: [rdp]}\n"
               "audit: {canaries: 2000, guesses: 40}\n",
               modes[i]);
      outcome o = run(extra, seed, NULL);
      if (!(o.lb <= o.eps) || o.bug)
        fail_msg("%s seed %d: audited lower bound %.3f above the accountant's epsilon %.3f",
                 modes[i], seed, o.lb, o.eps);
      lb_positive += o.lb > 0;
    }
  /* The audit sees the noisy canaries at all (not a vacuous pass). */
  assert_true(lb_positive > 0);
}

static void test_fault_detected(void **state) {
  (void)state;
  const char *extra = "dp: {clipping: flat, noise_multiplier: 3.0, accountants: [rdp]}\n"
                      "audit: {canaries: 2000, guesses: 40}\n";
  outcome ok = run(extra, 0, NULL);
  assert_false(ok.bug);
  assert_true(ok.lb < ok.eps);
  /* The second encoder's second convolution (576 weights, about 100 of the
   * canaries) escapes clipping: its canaries pass at 100 C. */
  outcome bad = run(extra, 0, "encoder2.enc2conv2");
  if (!bad.bug)
    fail_msg("a layer escaping clipping went unnoticed: lower bound %.3f, accountant %.3f (%d of "
             "%d right)",
             bad.lb, bad.eps, bad.correct, bad.guesses);
}

/* Gradient-canary scores travel in the checkpoint: 2 epochs, checkpoint,
 * a fresh trainer restored from it trains the third, and the audit equals an
 * uninterrupted run's, canary by canary. Input canaries are rebuilt from the
 * seed, and their scores too. */
static void audit_resumed(const char *extra, double *scores, int m, int split) {
  cb_experiment *e = malloc(sizeof *e);
  assert_non_null(e);
  cb_exp_init(e);
  char text[2048];
  snprintf(text, sizeof text, "%s%sseed: 3\n", BASE, extra);
  if (cb_exp_load_string(e, text, "audit.yaml") || cb_exp_resolve(e))
    fail_msg("config: %s", cb_last_error());
  const char *ck = tst_tmp_path("audit_resume.safetensors");
  cb_trainer t;
  assert_int_equal(cb_trainer_setup(&t, e, "0123456789abcdef"), 0);
  cb_epoch_stats st;
  for (int k = 0; k < (split ? 2 : 3); k++) {
    assert_int_equal(cb_trainer_epoch(&t, &st, NULL, NULL), 0);
    t.epochs_done++;
  }
  if (split) {
    assert_int_equal(cb_trainer_save(&t, ck), 0);
    cb_trainer_free(&t);
    assert_int_equal(cb_trainer_setup(&t, e, "0123456789abcdef"), 0);
    if (cb_trainer_restore(&t, ck)) fail_msg("restore: %s", cb_last_error());
    assert_int_equal(t.epochs_done, 2);
    assert_int_equal(cb_trainer_epoch(&t, &st, NULL, NULL), 0);
    t.epochs_done++;
  }
  cb_audit_row r;
  assert_int_equal(cb_audit_finish(&t, &r), 0);
  assert_int_equal(r.canaries, m);
  memcpy(scores, r.score, (size_t)m * sizeof(double));
  cb_trainer_free(&t);
  free(e);
}

static void test_resume(void **state) {
  (void)state;
  static const char *const kinds[] = {
      "dp: {clipping: flat, noise_multiplier: 1.0, accountants: [rdp]}\n"
      "audit: {canaries: 300, kind: gradient}\n",
      "dp: {clipping: flat, noise_multiplier: 1.0, accountants: [rdp]}\n"
      "audit: {canaries: 30, kind: input}\n",
  };
  int ms[] = {300, 30};
  for (int k = 0; k < 2; k++) {
    double a[300], b[300];
    audit_resumed(kinds[k], a, ms[k], 0);
    audit_resumed(kinds[k], b, ms[k], 1);
    int nonzero = 0;
    for (int i = 0; i < ms[k]; i++) {
      if (a[i] != b[i])
        fail_msg("%s canary %d: score %.17g uninterrupted, %.17g resumed", k ? "input" : "gradient",
                 i, a[i], b[i]);
      nonzero += a[i] != 0;
    }
    assert_true(nonzero > ms[k] / 2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nonprivate_detected),
      cmocka_unit_test(test_private_below_accountant),
      cmocka_unit_test(test_fault_detected),
      cmocka_unit_test(test_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
