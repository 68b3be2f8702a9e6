/* Experiment configuration: every kind of mistake reports the right
 * file:line:col and key, defaults resolve, --set overrides, --print-config
 * round-trips to the same canonical JSON and run id, and the id ignores key
 * order, number spelling and non-semantic keys but not semantic ones. */
#include "core/base/error.h"
#include "core/base/sha256.h"
#include "experiments/config.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

static cb_experiment *g_e;

static int setup(void **state) {
  (void)state;
  g_e = malloc(sizeof *g_e);
  return g_e ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  free(g_e);
  return 0;
}

/* Loads `text` as file "x.yaml" (plus optional --set), resolves; returns rc. */
static int load(cb_experiment *e, const char *text, const char *set1, const char *set2) {
  cb_exp_init(e);
  cb_error_clear();
  if (cb_exp_load_string(e, text, "x.yaml")) return -1;
  if (set1 && cb_exp_set(e, set1)) return -1;
  if (set2 && cb_exp_set(e, set2)) return -1;
  return cb_exp_resolve(e);
}

/* The error must start with `prefix` and contain `needle`. */
static void expect_error(const char *text, const char *set1, const char *prefix,
                         const char *needle) {
  int rc = load(g_e, text, set1, NULL);
  if (rc == 0) fail_msg("accepted, expected error %s ... %s\n%s", prefix, needle, text);
  const char *m = cb_last_error();
  if (strncmp(m, prefix, strlen(prefix)) != 0 || !strstr(m, needle))
    fail_msg("wrong error for:\n%s\n got: %s\nwant: %s ... %s", text, m, prefix, needle);
}

/* Issue 16 (4, 8): a relative data.path is relative to the experiment file
 * (folded, and relative to the current folder below it), an absolute one and
 * --set values are kept; an empty file is refused ({} asks for the
 * defaults); a noise multiplier or clip bound of 1e200 is out of range. */
static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_file_relative_paths(void **state) {
  (void)state;
  char dir[1024], file[1100];
  snprintf(dir, sizeof dir, "%s/exp", tst_tmpdir());
  mkdir(dir, 0777);
  snprintf(file, sizeof file, "%s/e.yaml", dir);
  write_text(file, "data: {source: npy, path: ./x/../../data/npy}\n");
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_file(g_e, file), 0);
  char want[1200];
  snprintf(want, sizeof want, "%s/data/npy", tst_tmpdir());
  assert_string_equal(g_e->data.path, want); /* outside the current folder: absolute */
  write_text(file, "data: {source: npy, path: /abs/npy}\n");
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_file(g_e, file), 0);
  assert_string_equal(g_e->data.path, "/abs/npy");
  assert_int_equal(cb_exp_set(g_e, "data.path=rel/npy"), 0);
  assert_string_equal(g_e->data.path, "rel/npy"); /* --set: relative to the current folder */
  /* Below the current folder: relative to it, whichever way the file is named. */
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(tst_tmpdir()), 0);
  write_text("exp/e.yaml", "data: {source: npy, path: npy}\n");
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_file(g_e, "exp/e.yaml"), 0);
  assert_string_equal(g_e->data.path, "exp/npy");
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_file(g_e, file), 0);
  assert_string_equal(g_e->data.path, "exp/npy");
  /* Empty files. */
  write_text("exp/empty.yaml", "# nothing but a comment\n");
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_file(g_e, "exp/empty.yaml"), -1);
  assert_non_null(strstr(cb_last_error(), "exp/empty.yaml: empty experiment file"));
  write_text("exp/empty.yaml", "{}\n");
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_file(g_e, "exp/empty.yaml"), 0);
  assert_int_equal(chdir(cwd), 0);
  expect_error("dp: {clipping: flat, noise_multiplier: 1e200}\n", NULL,
               "x.yaml:1:40: dp.noise_multiplier: 1e200 is out of range", "");
  expect_error("dp: {clipping: flat, noise_multiplier: 1, clip_bound: 1e200}\n", NULL,
               "x.yaml:1:55: dp.clip_bound: 1e200 is out of range", "");
}

static void test_error_locations(void **state) {
  (void)state;
  /* Unknown key: position of the key, with a suggestion and the accepted keys. */
  expect_error("dp:\n  clip_bond: 1\n", NULL, "x.yaml:2:3: unknown key 'dp.clip_bond'",
               "did you mean 'dp.clip_bound'");
  expect_error("seed: 1\nmodle:\n  width: 8\n", NULL, "x.yaml:2:1: unknown key 'modle'",
               "accepted keys at the top level: name, seed");
  /* Wrong type: position of the value. */
  expect_error("train:\n  lr: abc\n", NULL, "x.yaml:2:7: train.lr: not a number",
               "accepted: a number > 0");
  expect_error("train:\n  epochs: 2.5\n", NULL, "x.yaml:2:11: train.epochs: not an integer",
               "an integer");
  expect_error("model:\n  bias: maybe\n", NULL, "x.yaml:2:9: model.bias: not a boolean",
               "true|false, or auto");
  expect_error("train:\n  lr: \"0.1\"\n", NULL, "x.yaml:2:7: train.lr: not a number", "");
  expect_error("data: [1, 2]\n", NULL, "x.yaml:1:7: data: expected a mapping", "source, path");
  expect_error("data:\n  size: 64\n", NULL, "x.yaml:2:9: data.size: expected a list",
               "a list of 2 integers");
  /* Invalid values. */
  expect_error("dp:\n  clipping: flatt\n", NULL, "x.yaml:2:13: dp.clipping: unknown value 'flatt'",
               "none|flat|per_layer|automatic|random_sparsification|adaptive");
  expect_error("train:\n  lr: -0.1\n", NULL, "x.yaml:2:7: train.lr: -0.1 is out of range", "");
  expect_error("\n\ndata:\n    size: [64, 64, 3]\n", NULL,
               "x.yaml:4:11: data.size: more than 2 items", "");
  expect_error("dp:\n  accountants: [rdp, prv, rdp]\n", NULL,
               "x.yaml:2:16: dp.accountants: 'rdp' is listed twice", "rdp|prv|gdp");
  /* Structure. */
  expect_error("seed: 1\nname: a\nseed: 2\n", NULL, "x.yaml:3:1: duplicate key 'seed'",
               "first at line 1");
  expect_error("train:\n  lr: [1,\n", NULL, "x.yaml:", "YAML syntax error");
  expect_error("seed: 1\n---\nseed: 2\n", NULL, "x.yaml:2:1: a second YAML document", "");
  /* Combinations: position of the key to change. */
  expect_error("dp:\n  clipping: flat\n  noise_multiplier: 1\n  target_epsilon: 8\n", NULL,
               "x.yaml:4:19: dp.target_epsilon: set either dp.noise_multiplier (set at "
               "x.yaml:3:21)",
               "not both");
  expect_error("dp:\n  noise_multiplier: 1\n", NULL,
               "x.yaml:2:21: dp.noise_multiplier applies only when dp.clipping is not none",
               "dp.clipping is none (the default)");
  expect_error("dp:\n  clipping: none\n  noise_multiplier: 1\n", NULL,
               "x.yaml:3:21: dp.noise_multiplier applies only when dp.clipping is not none",
               "dp.clipping is none (at x.yaml:2:13)");
  expect_error("dp:\n  clipping: automatic\n", NULL,
               "x.yaml:2:13: dp.clipping: automatic needs dp.noise_multiplier or "
               "dp.target_epsilon",
               "");
  expect_error("train:\n  optimizer: adam\n  momentum: 0.9\n", NULL,
               "x.yaml:3:13: train.momentum applies only when train.optimizer is sgd",
               "train.optimizer is adam (at x.yaml:2:14)");
  expect_error("data:\n  size: [100, 128]\n", NULL,
               "x.yaml:2:9: data.size: data.size [100, 128] must be divisible by 2^model.depth "
               "= 16",
               "");
  expect_error("data:\n  source: duke_npy\n", NULL,
               "x.yaml:2:11: data.path: required when data.source is duke_npy", "");
  expect_error("data:\n  source: npy\n  path: d\n  split:\n    by: subject\n    test: [6, 9]\n",
               NULL, "x.yaml:6:11: data.split.test: subject 6 is also in data.split.train", "");
  expect_error("data:\n  split:\n    fractions: [0.5, 0.2, 0.2]\n", NULL,
               "x.yaml:3:16: data.split.fractions: [0.5, 0.2, 0.2] sums to", "not 1");
  expect_error("data:\n  count: 15\n", NULL,
               "x.yaml:2:10: data.count: train.batch_size 10 is larger than the training split "
               "(9 of data.count 15 images)",
               "");
  expect_error(
      "dp:\n  clipping: adaptive\n  noise_multiplier: 1.5\n  adaptive: {count_std: 0.5}\n", NULL,
      "x.yaml:4:25: dp.adaptive.count_std: 0.5 is too small for dp.noise_multiplier 1.5", "");
  /* --set errors name the argument. */
  expect_error("", "train.lr=x", "--set train.lr=x: train.lr: not a number", "");
  expect_error("", "data.size=[64]", "--set data.size=[64]: data.size: 1 item, need 2", "");
  expect_error("", "dp.clip_bond=2", "--set dp.clip_bond=2: unknown key 'dp.clip_bond'",
               "did you mean 'dp.clip_bound'");
  expect_error("", "dp.clip_bound=2", "--set dp.clip_bound=2: dp.clip_bound applies only when", "");
  expect_error("", "seed", "--set seed: expected KEY=VALUE", "");
}

static void test_defaults(void **state) {
  (void)state;
  cb_experiment *e = g_e;
  assert_int_equal(load(e, "", NULL, NULL), 0);
  /* The study's values. */
  assert_int_equal(e->model.arch, CB_ARCH_UNET);
  assert_int_equal(e->model.groups, 32);
  assert_int_equal(e->model.bias, 0);
  assert_int_equal(e->model.up, CB_UP_TRANSPOSE);
  assert_int_equal(e->model.classes, 9);
  assert_int_equal(e->train.batch_size, 10);
  assert_int_equal(e->train.max_physical_batch, 10);
  assert_int_equal(e->train.epochs, 100);
  assert_true(e->train.lr == 5e-4 && e->train.weight_decay == 1e-4);
  assert_int_equal(e->train.optimizer, CB_OPT_SGD);
  assert_int_equal(e->dp.clipping, CB_CLIP_NONE);
  assert_true(e->dp.delta == 1e-5 && e->dp.clip_bound == 1.0);
  assert_true(isnan(e->dp.noise_multiplier) && isnan(e->dp.target_epsilon));
  assert_int_equal(e->dp.n_accountants, 2);
  assert_int_equal(e->dp.accountants[0], CB_ACCT_PRV);
  assert_int_equal(e->data.size[0], 224);
  assert_int_equal(e->data.split.by, CB_SPLIT_FRACTION);
  /* auto values follow the architecture chosen later. */
  assert_int_equal(load(e, "model:\n  arch: unet\n", "model.arch=nested_unet", NULL), 0);
  assert_int_equal(e->model.groups, 8);
  assert_int_equal(e->model.bias, 1);
  assert_int_equal(e->model.up, CB_UP_BILINEAR);
  assert_int_equal(load(e, "data: {source: duke_npy, path: /d}\n", NULL, NULL), 0);
  assert_int_equal(e->data.split.by, CB_SPLIT_SUBJECT);
  assert_int_equal(e->data.split.train.n, 6);
  assert_int_equal(load(e,
                        "dp: {clipping: adaptive, noise_multiplier: 0.5, clip_bound: 3}\n"
                        "train: {batch_size: 40}\n",
                        NULL, NULL),
                   0);
  assert_true(e->dp.adaptive.count_std == 2.0);
  assert_true(e->dp.adaptive.initial_bound == 3.0);
  assert_string_equal(e->name, "experiment");
}

static void test_set_overrides(void **state) {
  (void)state;
  cb_experiment *e = g_e;
  assert_int_equal(load(e, "dp:\n  clipping: flat\n  noise_multiplier: 1\n", "dp.clip_bound=0.1",
                        "data.size=[64, 128]"),
                   0);
  assert_true(e->dp.clip_bound == 0.1);
  assert_int_equal(e->data.size[1], 128);
  assert_true(cb_exp_key_is_set(e, "dp.clip_bound"));
  assert_false(cb_exp_key_is_set(e, "train.lr"));
  /* A whole section at once, and null clears a nullable key. */
  assert_int_equal(load(e, "", "dp={clipping: per_layer, target_epsilon: 8}", NULL), 0);
  assert_int_equal(e->dp.clipping, CB_CLIP_PER_LAYER);
  assert_true(e->dp.target_epsilon == 8);
  assert_int_equal(load(e, "dp: {clipping: flat, noise_multiplier: 1}\n",
                        "dp.noise_multiplier=null", "dp.target_epsilon=3"),
                   0);
  assert_true(isnan(e->dp.noise_multiplier));
  /* A single accountant may be written without brackets. */
  assert_int_equal(
      load(e, "dp: {clipping: flat, noise_multiplier: 1, accountants: rdp}\n", NULL, NULL), 0);
  assert_int_equal(e->dp.n_accountants, 1);
  /* All four accountants, PLD primary (calibration and the epsilon column). */
  assert_int_equal(
      load(e, "dp: {clipping: flat, noise_multiplier: 1, accountants: [pld, prv, rdp, gdp]}\n",
           NULL, NULL),
      0);
  assert_int_equal(e->dp.n_accountants, 4);
  assert_int_equal(e->dp.accountants[0], CB_ACCT_PLD);
  /* Switching arms on a base: the base's private keys must be cleared. */
  cb_exp_init(e);
  assert_int_equal(cb_exp_load_string(e, "dp: {clipping: flat, noise_multiplier: 1}\n", "b.yaml"),
                   0);
  assert_int_equal(cb_exp_set(e, "dp.clipping=none"), 0);
  cb_experiment *copy = malloc(sizeof *copy);
  *copy = *e;
  assert_int_equal(cb_exp_resolve(copy), -1);
  cb_exp_clear_inapplicable(e);
  assert_int_equal(cb_exp_resolve(e), 0);
  assert_true(isnan(e->dp.noise_multiplier));
  free(copy);
}

static char *print_to_string(const cb_experiment *e) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(cb_exp_print_yaml(e, f), 0);
  fclose(f);
  return buf;
}

/* --set '~KEY' deletes a key or a section: back to the defaults, unset, and
 * the run is the one whose file never set it (same id). */
static void test_set_delete(void **state) {
  (void)state;
  cb_experiment *e = g_e, *plain = malloc(sizeof *plain);
  const char *priv = "train: {lr: 0.01}\ndp: {clipping: flat, noise_multiplier: 1, clip_bound: 2, "
                     "accountants: [rdp]}\n";
  cb_exp_init(e);
  assert_int_equal(cb_exp_load_string(e, priv, "p.yaml"), 0);
  assert_int_equal(cb_exp_set(e, "~dp"), 0);
  assert_false(cb_exp_key_is_set(e, "dp.clip_bound"));
  assert_false(cb_exp_key_is_set(e, "dp.noise_multiplier"));
  assert_true(cb_exp_key_is_set(e, "train.lr"));
  assert_int_equal(cb_exp_resolve(e), 0);
  assert_int_equal(e->dp.clipping, CB_CLIP_NONE);
  cb_exp_init(plain);
  assert_int_equal(cb_exp_load_string(plain, "train: {lr: 0.01}\n", "q.yaml"), 0);
  assert_int_equal(cb_exp_resolve(plain), 0);
  char a[CB_RUN_ID_LEN + 1], b[CB_RUN_ID_LEN + 1];
  assert_int_equal(cb_exp_id(e, a), 0);
  assert_int_equal(cb_exp_id(plain, b), 0);
  assert_string_equal(a, b);
  /* One key: the default comes back (clip bound 1), the rest stays. */
  cb_exp_init(e);
  assert_int_equal(cb_exp_load_string(e, priv, "p.yaml"), 0);
  assert_int_equal(cb_exp_set(e, "~dp.clip_bound"), 0);
  assert_true(e->dp.clip_bound == 1.0);
  assert_true(e->dp.noise_multiplier == 1.0);
  /* Unknown keys and a value are errors naming the argument. */
  assert_int_equal(cb_exp_set(e, "~dp.clip_bond"), -1);
  assert_non_null(strstr(cb_last_error(), "--set ~dp.clip_bond"));
  assert_non_null(strstr(cb_last_error(), "did you mean 'dp.clip_bound'"));
  assert_int_equal(cb_exp_set(e, "~dp.clip_bound=3"), -1);
  assert_non_null(strstr(cb_last_error(), "takes no value"));
  assert_int_equal(cb_exp_set(e, "~"), -1);
  free(plain);
}

static void test_print_config_round_trip(void **state) {
  (void)state;
  static const char *const cases[] = {
      "",
      "name: study\nseed: 7\nmodel: {arch: nested_unet}\ndp: {clipping: per_layer, "
      "noise_multiplier: 0.5}\n",
      "dp: {clipping: automatic, target_epsilon: 8, automatic: {scope: per_layer, gamma: 0.1}}\n"
      "train: {optimizer: adamw, betas: [0.8, 0.99], lr_schedule: {kind: step, gamma: 0.5}}\n",
      "data: {source: duke_npy, path: \"/data/duke npy\", size: [128, 64]}\n"
      "dp: {clipping: random_sparsification, noise_multiplier: 0.7, sparsification: {refresh: "
      "2}}\n",
      "dp: {clipping: adaptive, noise_multiplier: 0.3, adaptive: {target_quantile: 0.7}}\n"
      "eval: {every: 5}\ncheckpoint: {dir: 'ck \"x\"'}\n",
  };
  cb_experiment *a = g_e, *b = malloc(sizeof *b);
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    assert_int_equal(load(a, cases[k], NULL, NULL), 0);
    char *yaml = print_to_string(a);
    cb_exp_init(b);
    if (cb_exp_load_string(b, yaml, "printed.yaml") || cb_exp_resolve(b))
      fail_msg("case %zu: printed config does not load: %s\n%s", k, cb_last_error(), yaml);
    char *ja = cb_exp_to_json(a, CB_EXP_JSON_FULL), *jb = cb_exp_to_json(b, CB_EXP_JSON_FULL);
    assert_string_equal(ja, jb);
    char ia[CB_RUN_ID_LEN + 1], ib[CB_RUN_ID_LEN + 1];
    assert_int_equal(cb_exp_id(a, ia), 0);
    assert_int_equal(cb_exp_id(b, ib), 0);
    assert_string_equal(ia, ib);
    /* The stored JSON loads back too (it is what runs.config holds). */
    cb_exp_init(b);
    assert_int_equal(cb_exp_load_string(b, ja, "runs.config"), 0);
    assert_int_equal(cb_exp_resolve(b), 0);
    char *jc = cb_exp_to_json(b, CB_EXP_JSON_FULL);
    assert_string_equal(ja, jc);
    free(ja);
    free(jb);
    free(jc);
    free(yaml);
  }
  free(b);
}

static void id_of(const char *text, char id[CB_RUN_ID_LEN + 1]) {
  if (load(g_e, text, NULL, NULL)) fail_msg("%s", cb_last_error());
  assert_int_equal(cb_exp_id(g_e, id), 0);
}

static void test_run_id(void **state) {
  (void)state;
  char a[17], b[17];
  id_of("seed: 3\ndp:\n  clipping: flat\n  noise_multiplier: 1.0\n  clip_bound: 0.5\n"
        "train:\n  lr: 0.001\n",
        a);
  /* Key order, flow style, number spelling and dotted keys do not matter. */
  id_of("train: {lr: 1e-3}\ndp: {clip_bound: .5, noise_multiplier: 1, clipping: flat}\nseed: 3\n",
        b);
  assert_string_equal(a, b);
  id_of("dp.clip_bound: 0.50\ntrain.lr: 0.0010\ndp.noise_multiplier: 1e0\nseed: 3\n"
        "dp.clipping: flat\n",
        b);
  assert_string_equal(a, b);
  /* Non-semantic keys do not matter. */
  id_of("seed: 3\ndp: {clipping: flat, noise_multiplier: 1, clip_bound: 0.5, norm_rule: ghost}\n"
        "train: {lr: 0.001, max_physical_batch: 2}\nname: other\nthreads: 2\nbackend: cpu\n"
        "checkpoint: {dir: /tmp/ck, every: 5}\n",
        b);
  assert_string_equal(a, b);
  /* Explicit defaults are the same run as omitted ones. */
  id_of("seed: 3\ndp: {clipping: flat, noise_multiplier: 1, clip_bound: 0.5, delta: 1e-5}\n"
        "train: {lr: 0.001, epochs: 100}\nmodel: {groups: 32}\n",
        b);
  assert_string_equal(a, b);
  /* Semantic keys do. */
  static const char *const differ[] = {
      "seed: 4\ndp: {clipping: flat, noise_multiplier: 1, clip_bound: 0.5}\ntrain: {lr: 0.001}\n",
      "seed: 3\ndp: {clipping: flat, noise_multiplier: 1.1, clip_bound: 0.5}\ntrain: {lr: 0.001}\n",
      "seed: 3\ndp: {clipping: flat, noise_multiplier: 1, clip_bound: 0.5}\ntrain: {lr: 0.002}\n",
      "seed: 3\ndp: {clipping: flat, noise_multiplier: 1, clip_bound: 0.5, accountants: [rdp]}\n"
      "train: {lr: 0.001}\n",
      "seed: 3\ndp: {clipping: flat, noise_multiplier: 1, clip_bound: 0.5}\ntrain: {lr: 0.001}\n"
      "data: {size: [128, 128]}\n",
  };
  for (size_t k = 0; k < sizeof differ / sizeof differ[0]; k++) {
    id_of(differ[k], b);
    if (strcmp(a, b) == 0) fail_msg("same id for a different run:\n%s", differ[k]);
  }
  /* Keys that do not apply are not part of the id: a non-private run is the
   * same whatever its (cleared) DP settings were. */
  id_of("seed: 1\n", a);
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_string(g_e,
                                      "seed: 1\ndp: {clipping: flat, noise_multiplier: 2, "
                                      "clip_bound: 9}\n",
                                      "b.yaml"),
                   0);
  assert_int_equal(cb_exp_set(g_e, "dp.clipping=none"), 0);
  cb_exp_clear_inapplicable(g_e);
  assert_int_equal(cb_exp_resolve(g_e), 0);
  assert_int_equal(cb_exp_id(g_e, b), 0);
  assert_string_equal(a, b);
}

/* The identity of the default configuration is frozen: changing it silently
 * would make every existing database re-run its sweeps. Change this golden
 * only on purpose, and say so in the change log. */
static void test_identity_golden(void **state) {
  (void)state;
  assert_int_equal(load(g_e, "", NULL, NULL), 0);
  char *j = cb_exp_to_json(g_e, CB_EXP_JSON_IDENTITY);
  assert_string_equal(
      j, "{\"data\":{\"classes\":9,\"count\":110,\"normalise\":\"zscore\",\"size\":[224,224],"
         "\"source\":\"synthetic\",\"split\":{\"by\":\"fraction\",\"fractions\":[0.6,0.2,0.2],"
         "\"seed\":0}},\"dp\":{\"clipping\":\"none\"},\"eval\":{\"every\":1,\"split\":\"val\"},"
         "\"loss\":{\"ce_weight\":1,"
         "\"dice_smooth\":1,\"dice_weight\":1},\"model\":{\"arch\":\"unet\",\"bias\":false,"
         "\"depth\":4,\"groups\":32,\"in_channels\":1,\"up\":\"transpose\",\"width\":32},"
         "\"seed\":0,\"train\":{\"batch_size\":10,\"epochs\":100,\"lr\":0.0005,\"lr_schedule\":"
         "{\"kind\":\"constant\",\"warmup\":0},\"momentum\":0,\"nesterov\":false,\"optimizer\":"
         "\"sgd\",\"sampling\":\"poisson\",\"weight_decay\":0.0001}}");
  char id[17];
  assert_int_equal(cb_exp_id(g_e, id), 0);
  char hex[65];
  cb_sha256_hex(j, strlen(j), hex);
  assert_memory_equal(id, hex, 16);
  free(j);
}

/* The procedure switches of the study (issue 14): each is in the run id
 * only when set away from its default (so existing ids stay), the
 * combinations that cannot work are refused with the key and the fix, and
 * eval.split: test no longer silently stores the test split as val_*. */
static void test_procedure_switches(void **state) {
  (void)state;
  char base[17], id[17];
  assert_int_equal(load(g_e, "dp: {clipping: flat, noise_multiplier: 1}\n", NULL, NULL), 0);
  assert_int_equal(cb_exp_id(g_e, base), 0);
  static const char *const same[] = {"dp.sample_rate=batch_over_n", "loss.reduction=image",
                                     "train.sampling=poisson"};
  for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
    assert_int_equal(load(g_e, "dp: {clipping: flat, noise_multiplier: 1}\n", same[k], NULL), 0);
    assert_int_equal(cb_exp_id(g_e, id), 0);
    assert_string_equal(id, base);
  }
  static const char *const other[] = {"dp.sample_rate=opacus", "loss.reduction=batch",
                                      "train.sampling=shuffle"};
  for (size_t k = 0; k < sizeof other / sizeof other[0]; k++) {
    assert_int_equal(load(g_e, "dp: {clipping: flat, noise_multiplier: 1}\n", other[k], NULL), 0);
    assert_int_equal(cb_exp_id(g_e, id), 0);
    assert_string_not_equal(id, base);
  }
  /* RS as published: in the id when true, and only for random sparsification. */
  const char *rs = "dp: {clipping: random_sparsification, noise_multiplier: 1}\n";
  assert_int_equal(load(g_e, rs, NULL, NULL), 0);
  assert_int_equal(cb_exp_id(g_e, base), 0);
  assert_int_equal(load(g_e, rs, "dp.sparsification.as_published=false", NULL), 0);
  assert_int_equal(cb_exp_id(g_e, id), 0);
  assert_string_equal(id, base);
  assert_int_equal(load(g_e, rs, "dp.sparsification.as_published=true", NULL), 0);
  assert_int_equal(cb_exp_id(g_e, id), 0);
  assert_string_not_equal(id, base);
  expect_error("dp: {clipping: flat, noise_multiplier: 1}\n", "dp.sparsification.as_published=true",
               "--set dp.sparsification.as_published=true: dp.sparsification.as_published "
               "applies only when dp.clipping is random_sparsification",
               "flat");
  /* The batch loss's Softmax2d input follows the study's architectures. */
  assert_int_equal(load(g_e, "loss: {reduction: batch}\n", NULL, NULL), 0);
  assert_int_equal(g_e->loss.softmax_input, 1);
  assert_int_equal(load(g_e, "loss: {reduction: batch}\nmodel: {arch: nested_unet}\n", NULL, NULL),
                   0);
  assert_int_equal(g_e->loss.softmax_input, 0);
  expect_error("loss: {softmax_input: true}\n", NULL,
               "x.yaml:1:23: loss.softmax_input applies only when loss.reduction is batch", "");
  expect_error("loss: {reduction: batch}\ntrain: {batch_size: 10, max_physical_batch: 5}\n", NULL,
               "x.yaml:2:45: train.max_physical_batch: 5 is smaller than", "image");
  expect_error("eval: {split: test}\n", NULL, "x.yaml:1:15: eval.split: test is no longer",
               "test_metrics");
}

static void test_schema_queries(void **state) {
  (void)state;
  assert_int_equal(cb_exp_has_key("dp.clip_bound"), 1);
  assert_int_equal(cb_exp_has_key("dp.automatic"), 2);
  assert_int_equal(cb_exp_has_key("dp.clip"), 0);
  assert_true(cb_exp_key_in_identity("dp.noise_multiplier"));
  assert_false(cb_exp_key_in_identity("threads"));
  assert_false(cb_exp_key_in_identity("checkpoint.dir"));
  assert_int_equal(load(g_e, "dp: {clipping: flat, noise_multiplier: 1}\n", NULL, NULL), 0);
  assert_true(cb_exp_key_applies(g_e, "dp.noise_multiplier"));
  assert_false(cb_exp_key_applies(g_e, "dp.automatic.gamma"));
  char v[64];
  assert_int_equal(cb_exp_value_json(g_e, "dp.clipping", v, sizeof v), 0);
  assert_string_equal(v, "\"flat\"");
  assert_int_equal(cb_exp_value_json(g_e, "data.size", v, sizeof v), 0);
  assert_string_equal(v, "[224,224]");
  /* The file name is the default run name. */
  char path[512];
  snprintf(path, sizeof path, "%s/my_exp.yaml", tst_tmpdir());
  FILE *f = fopen(path, "w");
  fputs("seed: 2\n", f);
  fclose(f);
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_load_file(g_e, path), 0);
  assert_string_equal(g_e->name, "my_exp");
  assert_int_equal(cb_exp_load_file(g_e, "/nonexistent/x.yaml"), -1);
  assert_non_null(strstr(cb_last_error(), "cannot read experiment file /nonexistent/x.yaml"));
}

/* The experiment's spellings are the core's, index for index, so the
 * mapping to cb_dp_cfg / cb_optim_cfg is a cast. */
static void test_core_mapping(void **state) {
  (void)state;
  for (int k = 0; CB_CLIP_NAMES[k] || CB_CLIPPING_NAMES[k]; k++) {
    assert_non_null(CB_CLIP_NAMES[k]);
    assert_non_null(CB_CLIPPING_NAMES[k]);
    assert_string_equal(CB_CLIP_NAMES[k], CB_CLIPPING_NAMES[k]);
  }
  for (int k = 0; CB_OPTIM_NAMES[k] || CB_OPTIMIZER_NAMES[k]; k++)
    assert_string_equal(CB_OPTIM_NAMES[k], CB_OPTIMIZER_NAMES[k]);
  for (int k = 0; CB_AUTO_NAMES[k] || CB_AUTO_VARIANT_NAMES[k]; k++)
    assert_string_equal(CB_AUTO_NAMES[k], CB_AUTO_VARIANT_NAMES[k]);
  assert_string_equal(CB_THRESHOLDS_NAMES[CB_THRESH_SAME], "same");
  assert_string_equal(CB_THRESHOLDS_NAMES[CB_THRESH_SPLIT], "equal_split");
  cb_dp_cfg d;
  assert_int_equal(load(g_e,
                        "seed: 5\ndp: {clipping: automatic, noise_multiplier: 0.5, clip_bound: 2, "
                        "automatic: {scope: per_layer, variant: auto_v}, per_layer: "
                        "{thresholds: equal_split, group_by: layer}}\n",
                        NULL, NULL),
                   0);
  cb_exp_dp_cfg(g_e, &d);
  assert_int_equal(d.mode, CB_CLIP_AUTOMATIC);
  assert_true(d.clip_bound == 2 && d.noise_multiplier == 0.5 && d.auto_gamma == 0);
  assert_int_equal(d.per_layer_scope, 1);
  assert_int_equal(d.thresholds, CB_THRESH_SPLIT);
  assert_int_equal(d.group_by, CB_GROUP_LAYER);
  assert_int_equal(d.auto_variant, CB_AUTO_V);
  assert_int_equal((int)d.seed, 5);
  assert_int_equal(load(g_e,
                        "dp: {clipping: adaptive, target_epsilon: 8, clip_bound: 3, adaptive: "
                        "{initial_bound: 0.5}}\n",
                        NULL, NULL),
                   0);
  cb_exp_dp_cfg(g_e, &d);
  assert_true(d.clip_bound == 0.5 && isnan(d.noise_multiplier) && d.ad_count_std == 0.5);
  cb_optim_cfg o;
  assert_int_equal(
      load(g_e, "train: {optimizer: adamw, lr: 0.01, betas: [0.8, 0.9], eps: 1e-6}\n", NULL, NULL),
      0);
  cb_exp_optim_cfg(g_e, &o);
  assert_int_equal(o.kind, CB_OPTIM_ADAMW);
  assert_true(o.lr == 0.01 && o.beta1 == 0.8 && o.beta2 == 0.9 && o.eps == 1e-6 &&
              o.weight_decay == 1e-4);
  assert_int_equal(cb_optim_cfg_validate(&o), 0);
  expect_error("train: {nesterov: true}\n", NULL,
               "x.yaml:1:19: train.nesterov: Nesterov momentum needs train.momentum > 0", "");
}

/* The sweep runner applies values from its own YAML document; errors point
 * into the sweep file. */
static void test_apply_yaml_node(void **state) {
  (void)state;
  const char *sweep = "name: s\ngrid:\n  dp.clipping: [flat, automatic, flatt]\n"
                      "  model: {arch: nested_unet}\n";
  yaml_parser_t p;
  yaml_document_t doc;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)sweep, strlen(sweep));
  assert_int_equal(yaml_parser_load(&p, &doc), 1);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  yaml_node_t *grid = yaml_document_get_node(&doc, root->data.mapping.pairs.start[1].value);
  yaml_node_pair_t *clip = &grid->data.mapping.pairs.start[0];
  yaml_node_t *list = yaml_document_get_node(&doc, clip->value);
  yaml_node_t *v1 = yaml_document_get_node(&doc, list->data.sequence.items.start[1]);
  yaml_node_t *v2 = yaml_document_get_node(&doc, list->data.sequence.items.start[2]);
  cb_exp_init(g_e);
  assert_int_equal(cb_exp_apply_yaml_node(g_e, "dp.clipping", &doc, v1, "sweep.yaml"), 0);
  assert_int_equal(g_e->dp.clipping, CB_CLIP_AUTOMATIC);
  assert_int_equal(cb_exp_apply_yaml_node(g_e, "dp.clipping", &doc, v2, "sweep.yaml"), -1);
  assert_non_null(strstr(cb_last_error(), "sweep.yaml:3:34: dp.clipping: unknown value 'flatt'"));
  /* A section value. */
  yaml_node_t *model = yaml_document_get_node(&doc, grid->data.mapping.pairs.start[1].value);
  assert_int_equal(cb_exp_apply_yaml_node(g_e, "model", &doc, model, "sweep.yaml"), 0);
  assert_int_equal(g_e->model.arch, CB_ARCH_NESTED_UNET);
  assert_int_equal(cb_exp_apply_yaml_node(g_e, "modle", &doc, model, "sweep.yaml"), -1);
  assert_non_null(strstr(cb_last_error(), "sweep.yaml:4:10: unknown key 'modle'"));
  assert_true(cb_exp_key_is_set(g_e, "model.arch"));
  yaml_document_delete(&doc);
  yaml_parser_delete(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_locations), cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_set_overrides),   cmocka_unit_test(test_print_config_round_trip),
      cmocka_unit_test(test_run_id),          cmocka_unit_test(test_identity_golden),
      cmocka_unit_test(test_schema_queries),  cmocka_unit_test(test_core_mapping),
      cmocka_unit_test(test_apply_yaml_node), cmocka_unit_test(test_file_relative_paths),
      cmocka_unit_test(test_set_delete),      cmocka_unit_test(test_procedure_switches),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
