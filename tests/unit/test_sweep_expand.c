/* Sweep files: cartesian products in a fixed order, seeds, include and
 * exclude, arms crossed with the grid, keys that do not apply collapsing into
 * one run, run ids that do not depend on how the file is written, and the
 * errors (with file:line:col) for each kind of mistake. */
#include "core/base/error.h"
#include "sweeps/sweep.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BASE[] = "seed: 3\n"
                           "data: {size: [32, 32], count: 24}\n"
                           "model: {arch: unet, width: 4, depth: 2}\n"
                           "train: {epochs: 1, batch_size: 6}\n"
                           "dp: {clipping: flat, noise_multiplier: 0.5, accountants: [rdp]}\n";

static const char *write_file(const char *name, const char *text) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tst_tmpdir(), name);
  FILE *f = fopen(buf[k], "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return buf[k];
}

static int setup(void **state) {
  (void)state;
  write_file("base.yaml", BASE);
  return 0;
}

static void load_ok(cb_sweep *sw, const char *text) {
  const char *p = write_file("s.yaml", text);
  if (cb_sweep_load(sw, p, 0, NULL)) fail_msg("%s", cb_last_error());
}

/* The message must contain `want` (a location and the problem). */
static void load_err(const char *text, const char *want) {
  const char *p = write_file("s.yaml", text);
  cb_sweep sw;
  if (cb_sweep_load(&sw, p, 0, NULL) == 0) {
    cb_sweep_free(&sw);
    fail_msg("accepted: %s", text);
  }
  /* Compare with the temporary folder taken out of the paths. */
  char msg[4096], dir[600];
  snprintf(dir, sizeof dir, "%s/", tst_tmpdir());
  size_t n = 0, dl = strlen(dir);
  for (const char *m = cb_last_error(); *m && n + 1 < sizeof msg;)
    if (strncmp(m, dir, dl) == 0)
      m += dl;
    else
      msg[n++] = *m++;
  msg[n] = 0;
  if (!strstr(msg, want)) fail_msg("error\n  %s\ndoes not contain\n  %s", msg, want);
}

/* The id of base.yaml with overrides applied, resolved like a run. */
static void direct_id(const char *const *sets, int n, int clear, char id[CB_RUN_ID_LEN + 1]) {
  cb_experiment *e = malloc(sizeof *e);
  cb_exp_init(e);
  char path[512];
  snprintf(path, sizeof path, "%s/base.yaml", tst_tmpdir());
  assert_int_equal(cb_exp_load_file(e, path), 0);
  for (int i = 0; i < n; i++)
    if (cb_exp_set(e, sets[i])) fail_msg("%s", cb_last_error());
  if (clear) cb_exp_clear_inapplicable(e);
  if (cb_exp_resolve(e)) fail_msg("%s", cb_last_error());
  assert_int_equal(cb_exp_id(e, id), 0);
  free(e);
}

/* Every run's stored configuration loads back to its own id. */
static void check_configs(const cb_sweep *sw) {
  cb_experiment *e = malloc(sizeof *e);
  for (int i = 0; i < sw->n_runs; i++) {
    char id[CB_RUN_ID_LEN + 1];
    cb_exp_init(e);
    if (cb_exp_load_string(e, sw->runs[i].config, "config") || cb_exp_resolve(e))
      fail_msg("run %d: %s", i, cb_last_error());
    assert_int_equal(cb_exp_id(e, id), 0);
    assert_string_equal(id, sw->runs[i].id);
    for (int j = 0; j < i; j++)
      assert_string_not_equal(sw->runs[i].id, sw->runs[j].id);
  }
  free(e);
}

static void test_product(void **state) {
  (void)state;
  cb_sweep sw;
  load_ok(&sw, "name: prod\nbase: base.yaml\ngrid:\n"
               "  model.arch: [unet, nested_unet]\n"
               "  dp.noise_multiplier: [0.5, 1.0, 2]\n"
               "  dp: {clip_bound: [0.1, 1]}\n");
  assert_string_equal(sw.name, "prod");
  assert_int_equal(sw.n_runs, 12);
  assert_int_equal(sw.n_points, 12);
  assert_int_equal(sw.n_cols, 3);
  assert_string_equal(sw.cols[0], "arch");
  assert_string_equal(sw.cols[1], "noise_multiplier");
  assert_string_equal(sw.cols[2], "clip_bound");
  /* First key outermost, last key fastest. */
  assert_string_equal(
      sw.runs[0].point,
      "{\"model.arch\":\"unet\",\"dp.noise_multiplier\":0.5,\"dp.clip_bound\":0.1}");
  assert_string_equal(sw.runs[1].point,
                      "{\"model.arch\":\"unet\",\"dp.noise_multiplier\":0.5,\"dp.clip_bound\":1}");
  assert_string_equal(sw.runs[2].point,
                      "{\"model.arch\":\"unet\",\"dp.noise_multiplier\":1,\"dp.clip_bound\":0.1}");
  assert_string_equal(
      sw.runs[11].point,
      "{\"model.arch\":\"nested_unet\",\"dp.noise_multiplier\":2,\"dp.clip_bound\":1}");
  assert_string_equal(sw.runs[11].cells[0], "nested_unet");
  assert_string_equal(sw.runs[11].cells[1], "2");
  assert_string_equal(sw.runs[5].name, "arch=unet noise_multiplier=2 clip_bound=1");
  for (int i = 0; i < 12; i++)
    assert_int_equal(sw.runs[i].idx, i);
  /* A grid point is exactly the base file with those keys set. */
  const char *sets[] = {"model.arch=nested_unet", "dp.noise_multiplier=2", "dp.clip_bound=1"};
  char id[CB_RUN_ID_LEN + 1];
  direct_id(sets, 3, 0, id);
  assert_string_equal(sw.runs[11].id, id);
  check_configs(&sw);
  assert_non_null(strstr(sw.spec, "clip_bound: [0.1, 1]"));
  cb_sweep_free(&sw);
}

static void test_seeds(void **state) {
  (void)state;
  cb_sweep sw;
  load_ok(&sw, "base: base.yaml\ngrid: {dp.noise_multiplier: [0.5, 1]}\nseeds: [5, 9]\n");
  assert_string_equal(sw.name, "s"); /* the file's name */
  assert_int_equal(sw.n_runs, 4);
  /* Seeds outermost: the whole grid of the first seed comes first. */
  assert_string_equal(sw.runs[0].point, "{\"dp.noise_multiplier\":0.5,\"seed\":5}");
  assert_string_equal(sw.runs[1].point, "{\"dp.noise_multiplier\":1,\"seed\":5}");
  assert_string_equal(sw.runs[3].point, "{\"dp.noise_multiplier\":1,\"seed\":9}");
  assert_string_equal(sw.cols[1], "seed");
  check_configs(&sw);
  cb_sweep_free(&sw);
  /* A count: the base seed and the next ones. */
  load_ok(&sw, "base: base.yaml\nseeds: 3\n");
  assert_int_equal(sw.n_runs, 3);
  assert_string_equal(sw.runs[0].point, "{\"seed\":3}");
  assert_string_equal(sw.runs[2].point, "{\"seed\":5}");
  check_configs(&sw);
  cb_sweep_free(&sw);
}

static void test_include_exclude(void **state) {
  (void)state;
  cb_sweep sw;
  load_ok(&sw, "base: base.yaml\n"
               "grid:\n"
               "  model.arch: [unet, nested_unet]\n"
               "  dp.noise_multiplier: [0.5, 1, 2]\n"
               "  dp.clip_bound: [0.1, 1]\n"
               "exclude:\n"
               "  - {model.arch: nested_unet, dp.noise_multiplier: [1, 2]}\n"
               "  - {dp: {clip_bound: 10}}\n"
               "include:\n"
               "  - {model.arch: nested_unet, dp.noise_multiplier: 1, dp.clip_bound: 10}\n"
               "  - {model.arch: unet, dp.noise_multiplier: 0.5, dp.clip_bound: 0.1}\n");
  /* 12 grid points, 4 excluded; the first include is new, the second is
   * grid point 0 again and merges with it. */
  assert_int_equal(sw.n_excluded, 4);
  assert_int_equal(sw.n_points, 10);
  assert_int_equal(sw.n_runs, 9);
  for (int i = 0; i < 8; i++)
    assert_null(strstr(sw.runs[i].point, "\"nested_unet\",\"dp.noise_multiplier\":1,"));
  assert_string_equal(sw.runs[8].point,
                      "{\"include\":1,\"model.arch\":\"nested_unet\",\"dp.noise_multiplier\":1,"
                      "\"dp.clip_bound\":10}");
  assert_string_equal(sw.runs[8].cells[2], "10");
  /* The exclude pattern on clip bound 10 matched nothing (includes are not excluded). */
  assert_int_equal(sw.n_notes, 1);
  assert_non_null(strstr(sw.notes[0], "s.yaml:8:5: this exclude pattern matches no point"));
  check_configs(&sw);
  cb_sweep_free(&sw);
  /* A list-valued key compares as one value. */
  load_err(
      "base: base.yaml\ngrid: {dp.noise_multiplier: [1, 2]}\nexclude: [{data.size: [32, 32]}]\n",
      "s.yaml: the sweep has no points (every grid point is excluded)");
}

static void test_arms_collapse(void **state) {
  (void)state;
  cb_sweep sw;
  load_ok(&sw, "name: study\nbase: base.yaml\n"
               "arms:\n"
               "  nonprivate: {dp.clipping: none}\n"
               "  flat: {}\n"
               "  automatic: {dp: {clipping: automatic, automatic: {scope: per_layer}}}\n"
               "grid:\n"
               "  model.arch: [unet, nested_unet]\n"
               "  dp.noise_multiplier: [0.5, 1]\n"
               "  dp.automatic.gamma: [0.01, 0.1]\n"
               "exclude: [{arm: automatic, model.arch: nested_unet}]\n");
  /* nonprivate: 2 archs (sigma and gamma collapse); flat: 2 x 2 (gamma
   * collapses); automatic: 1 arch x 2 x 2. */
  assert_int_equal(sw.n_points, 3 * 8 - 4);
  assert_int_equal(sw.n_excluded, 4);
  assert_int_equal(sw.n_runs, 2 + 4 + 4);
  assert_string_equal(sw.cols[0], "arm");
  assert_string_equal(sw.runs[0].point, "{\"arm\":\"nonprivate\",\"model.arch\":\"unet\"}");
  assert_string_equal(sw.runs[0].cells[2], "-");
  assert_string_equal(sw.runs[0].name, "nonprivate arch=unet");
  assert_string_equal(sw.runs[1].point, "{\"arm\":\"nonprivate\",\"model.arch\":\"nested_unet\"}");
  assert_string_equal(sw.runs[2].point,
                      "{\"arm\":\"flat\",\"model.arch\":\"unet\",\"dp.noise_multiplier\":0.5}");
  assert_string_equal(sw.runs[6].point,
                      "{\"arm\":\"automatic\",\"model.arch\":\"unet\",\"dp.noise_multiplier\":0.5,"
                      "\"dp.automatic.gamma\":0.01}");
  /* The non-private run is the base made non-private, whatever the grid's sigma. */
  const char *np[] = {"dp.clipping=none"};
  char id[CB_RUN_ID_LEN + 1];
  direct_id(np, 1, 1, id);
  assert_string_equal(sw.runs[0].id, id);
  check_configs(&sw);
  cb_sweep_free(&sw);
}

/* The same sweep written differently gives the same runs. */
static void test_stable_ids(void **state) {
  (void)state;
  cb_sweep a, b;
  load_ok(&a, "base: base.yaml\n"
              "set: {train.epochs: 2, train.lr: 0.01}\n"
              "arms:\n"
              "  nonprivate: {dp.clipping: none}\n"
              "  per_layer: {dp.clipping: per_layer, dp.per_layer.thresholds: same}\n"
              "grid:\n"
              "  model.arch: [unet, nested_unet]\n"
              "  dp.noise_multiplier: [0.5, 1.0]\n");
  load_ok(&b, "# reordered, nested, other spellings of the same numbers\n"
              "grid:\n"
              "  dp:\n"
              "    noise_multiplier: [1, 5e-1]\n"
              "  model: {arch: [nested_unet, unet]}\n"
              "arms:\n"
              "  per_layer: {dp: {per_layer: {thresholds: same}, clipping: per_layer}}\n"
              "  nonprivate: {dp: {clipping: none}}\n"
              "set:\n"
              "  train: {lr: 1.0e-2, epochs: 2}\n"
              "base: base.yaml\n");
  assert_int_equal(a.n_runs, 6);
  assert_int_equal(b.n_runs, 6);
  for (int i = 0; i < a.n_runs; i++) {
    int found = 0;
    for (int j = 0; j < b.n_runs; j++)
      found += strcmp(a.runs[i].id, b.runs[j].id) == 0;
    if (found != 1)
      fail_msg("run %s (%s) is not in the reordered sweep", a.runs[i].id, a.runs[i].point);
  }
  /* Loading again gives the same order. */
  cb_sweep c;
  load_ok(&c, a.spec);
  for (int i = 0; i < a.n_runs; i++)
    assert_string_equal(a.runs[i].id, c.runs[i].id);
  cb_sweep_free(&a);
  cb_sweep_free(&b);
  cb_sweep_free(&c);
}

static void test_set_overrides(void **state) {
  (void)state;
  const char *p = write_file("s.yaml", "base: base.yaml\ngrid: {dp.noise_multiplier: [0.5, 1]}\n");
  const char *ok[] = {"train.epochs=3"};
  cb_sweep sw;
  if (cb_sweep_load(&sw, p, 1, ok)) fail_msg("%s", cb_last_error());
  assert_non_null(strstr(sw.runs[0].config, "\"epochs\":3"));
  assert_non_null(strstr(sw.spec, "# --set train.epochs=3\n"));
  const char *sets[] = {"train.epochs=3", "dp.noise_multiplier=2"};
  const char *setsn[] = {"dp.noise_multiplier=2", "train.epochs=3"};
  char id[CB_RUN_ID_LEN + 1];
  direct_id(setsn, 2, 0, id);
  (void)id;
  cb_sweep_free(&sw);
  assert_int_equal(cb_sweep_load(&sw, p, 2, sets), -1);
  assert_non_null(strstr(cb_last_error(),
                         "--set dp.noise_multiplier=2: dp.noise_multiplier is swept by the grid"));
  p = write_file("s.yaml", "base: base.yaml\narms: {a: {train.lr: 0.1}}\n");
  const char *arm[] = {"train={lr: 1}"};
  assert_int_equal(cb_sweep_load(&sw, p, 1, arm), -1);
  assert_non_null(strstr(cb_last_error(), "--set train={lr: 1}: "));
  assert_non_null(
      strstr(cb_last_error(), "sets train.lr for arm a (line 2), which --set cannot override"));
  const char *bad[] = {"train.epoch=3"};
  assert_int_equal(cb_sweep_load(&sw, p, 1, bad), -1);
  assert_non_null(strstr(cb_last_error(), "--set train.epoch=3: unknown key 'train.epoch'"));
}

static void test_errors(void **state) {
  (void)state;
  load_err("gird: {dp.clip_bound: [1]}\n", "s.yaml:1:1: unknown key 'gird' in a sweep file");
  load_err(
      "base: base.yaml\ndp.clip_bound: 2\n",
      "s.yaml:2:1: unknown key 'dp.clip_bound' in a sweep file (experiment keys go under set:");
  load_err("base: base.yaml\ngrid:\n  dp.noise_multipler: [1]\n",
           "s.yaml:3:3: unknown key 'dp.noise_multipler' (did you mean 'dp.noise_multiplier'?");
  load_err("base: base.yaml\ngrid:\n  dp.noise_multiplier: 0.5\n",
           "s.yaml:3:24: grid: dp.noise_multiplier: expected a list of values");
  load_err("base: base.yaml\ngrid:\n  dp.noise_multiplier: []\n",
           "s.yaml:3:24: grid: dp.noise_multiplier: an empty list");
  load_err("base: base.yaml\ngrid:\n  dp.noise_multiplier: [0.5, fast]\n",
           "s.yaml:3:30: dp.noise_multiplier: not a number: 'fast'");
  load_err("base: base.yaml\ngrid:\n  dp.noise_multiplier: [0.5, 5e-1]\n",
           "s.yaml:3:30: grid: dp.noise_multiplier: value 0.5 is listed twice");
  load_err("base: base.yaml\ngrid:\n  train.max_physical_batch: [2, 4]\n",
           "s.yaml:3:3: grid: train.max_physical_batch does not change what a run computes");
  load_err("base: base.yaml\nset: {dp.noise_multiplier: 1}\ngrid: {dp.noise_multiplier: [0.5]}\n",
           "s.yaml:2:7: set: dp.noise_multiplier is also swept by grid");
  load_err("base: base.yaml\narms:\n  np: {dp.clipping: none, dp.noise_multiplier: 1}\n",
           "s.yaml:3:48: dp.noise_multiplier applies only when dp.clipping is not none");
  load_err("base: base.yaml\narms: {a: {}}\ninclude: [{arm: b}]\n",
           "s.yaml:3:17: include: arm: unknown arm 'b' (arms: a)");
  load_err("base: base.yaml\narms: {a: {}}\nexclude: [{arm: [a, c]}]\n",
           "s.yaml:3:21: exclude: arm: unknown arm 'c'");
  load_err("base: missing.yaml\n", "s.yaml:1:7: base: cannot read");
  load_err("base: base.yaml\nseeds: []\n", "s.yaml:2:8: seeds: an empty list");
  load_err("base: base.yaml\nseeds: 0\n", "s.yaml:2:8: seeds: expected a list of seeds");
  load_err("base: base.yaml\nseeds: [1, x]\n",
           "s.yaml:2:12: seeds: expected a non-negative integer");
  load_err("base: base.yaml\ngrid: {seed: [1, 2]}\nseeds: [3]\n",
           "grid: seed and seeds: (line 3) both set seeds");
  load_err("base: base.yaml\narms: {a: {dp.clip_bound: 2}}\ngrid: {dp.clip_bound: [1]}\n",
           "s.yaml:2:12: arms: a: dp.clip_bound is also swept by grid");
  /* A grid key that applies to no point. */
  load_err("base: base.yaml\ngrid: {dp.automatic.gamma: [0.01, 0.1]}\n",
           "s.yaml:2:8: grid: dp.automatic.gamma applies to none of the 2 points; for example");
  /* A point that fails validation is named, and the value located. */
  load_err(
      "base: base.yaml\ngrid:\n  dp.noise_multiplier: [1]\n  data.size: [[32, 32], [30, 30]]\n",
      "s.yaml: point 2 (dp.noise_multiplier=1 data.size=[30,30]): s.yaml:4:25: data.size: "
      "data.size [30, 30] "
      "must be divisible by 2^model.depth = 4");
  load_err("base: base.yaml\ngrid: {dp: [{clipping: none}, 3]}\n",
           "s.yaml:2:31: expected a mapping of experiment keys");
  load_err("base: base.yaml\n  x: [\n", "s.yaml:2:4: YAML syntax error");
  load_err("[1, 2]\n", "s.yaml:1:1: a sweep file is a mapping");
}

/* Sections as grid values (paired keys) and arms with their own base file. */
static void test_sections_and_arm_bases(void **state) {
  (void)state;
  write_file(
      "np.yaml",
      "seed: 3\ndata: {size: [32, 32], count: 24}\nmodel: {arch: nested_unet, width: 4, depth: 2}\n"
      "train: {epochs: 1, batch_size: 6}\n");
  cb_sweep sw;
  load_ok(&sw, "base: base.yaml\n"
               "arms:\n"
               "  flat: {}\n"
               "  nonprivate: {base: np.yaml}\n"
               "grid:\n"
               "  train: [{lr: 0.01, momentum: 0.9}, {lr: 0.1, momentum: 0}]\n");
  assert_int_equal(sw.n_runs, 4);
  assert_string_equal(sw.runs[1].point, "{\"arm\":\"flat\",\"train\":{\"lr\":0.1,\"momentum\":0}}");
  assert_string_equal(sw.runs[2].cells[0], "nonprivate");
  assert_non_null(strstr(sw.runs[2].config, "\"nested_unet\""));
  assert_null(strstr(sw.runs[2].config, "noise_multiplier"));
  check_configs(&sw);
  cb_sweep_free(&sw);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_product),         cmocka_unit_test(test_seeds),
      cmocka_unit_test(test_include_exclude), cmocka_unit_test(test_arms_collapse),
      cmocka_unit_test(test_stable_ids),      cmocka_unit_test(test_set_overrides),
      cmocka_unit_test(test_errors),          cmocka_unit_test(test_sections_and_arm_bases),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
