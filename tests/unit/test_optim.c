/* Optimizers against torch.optim (fixture tests/fixtures/golden_optim
 * .safetensors from tests/gen/gen_golden.py): SGD, SGD with momentum, with
 * Nesterov and weight decay, Adam with and without weight decay, AdamW, on
 * three tensors for five steps with a changing learning rate. After every
 * step the parameters, and after the last step the optimizer state, agree
 * with PyTorch's float32 values per tensor to 1e-6 relative in the maximum
 * norm (|x - x_torch|_inf <= 1e-6 |x_torch|_inf): the arithmetic is the same
 * float32 operations in the same order, so only contraction or library
 * rounding differences may remain. Plus the configuration checks. */
#include "core/base/error.h"
#include "core/io/json_parse.h"
#include "core/io/safetensors.h"
#include "core/optim/optim.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-6
#define N_T 3
static const char *const TNAME[N_T] = {"a", "b", "c"};

typedef struct {
  cb_st_file f;
  int64_t off[N_T + 1];
  int64_t shape[N_T][4];
  int ndim[N_T];
  cb_jv configs, scale;
} fixture;

static void load(fixture *x) {
  assert_int_equal(cb_st_read(tst_src_path("tests/fixtures/golden_optim.safetensors"), &x->f), 0);
  x->off[0] = 0;
  for (int t = 0; t < N_T; t++) {
    char nm[32];
    snprintf(nm, sizeof nm, "param.%s", TNAME[t]);
    const cb_st_tensor *ts = cb_st_find(&x->f, nm);
    assert_non_null(ts);
    x->ndim[t] = ts->ndim;
    for (int d = 0; d < ts->ndim; d++)
      x->shape[t][d] = ts->shape[d];
    x->off[t + 1] = x->off[t] + ts->numel;
  }
  const char *c = cb_meta_get(&x->f.meta, "configs"), *s = cb_meta_get(&x->f.meta, "lr_scale");
  assert_non_null(c);
  assert_non_null(s);
  assert_int_equal(cb_jv_parse(c, strlen(c), "configs", &x->configs), 0);
  assert_int_equal(cb_jv_parse(s, strlen(s), "lr_scale", &x->scale), 0);
}

static void unload(fixture *x) {
  cb_jv_free(&x->configs);
  cb_jv_free(&x->scale);
  cb_st_close(&x->f);
}

/* Reads the three tensors "<prefix>.<t>" into one flat buffer. */
static void get_flat(const fixture *x, const char *prefix, float *dst) {
  for (int t = 0; t < N_T; t++) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s.%s", prefix, TNAME[t]);
    int rc = cb_st_get_f32(&x->f, nm, x->ndim[t], x->shape[t], dst + x->off[t]);
    if (rc) fprintf(stderr, "%s\n", cb_last_error());
    assert_int_equal(rc, 0);
  }
}

static double compare(const fixture *x, const float *got, const float *want, const char *what) {
  double worst = 0.0;
  for (int t = 0; t < N_T; t++) {
    double md = 0.0, mw = 0.0;
    for (int64_t j = x->off[t]; j < x->off[t + 1]; j++) {
      md = fmax(md, fabs((double)got[j] - want[j]));
      mw = fmax(mw, fabs((double)want[j]));
    }
    double e = md / mw;
    if (e > TOL) fprintf(stderr, "%s tensor %s: error %.2e\n", what, TNAME[t], e);
    assert_true(e <= TOL);
    worst = fmax(worst, e);
  }
  return worst;
}

static void cfg_from_json(const cb_jv *c, cb_optim_cfg *o) {
  const char *kind = cb_jv_get(c, "kind")->str;
  cb_optim_kind k = strcmp(kind, "sgd") == 0    ? CB_OPTIM_SGD
                    : strcmp(kind, "adam") == 0 ? CB_OPTIM_ADAM
                                                : CB_OPTIM_ADAMW;
  cb_optim_cfg_default(o, k);
  o->lr = cb_jv_get(c, "lr")->num;
  o->weight_decay = cb_jv_get(c, "weight_decay")->num;
  if (k == CB_OPTIM_SGD) {
    o->momentum = cb_jv_get(c, "momentum")->num;
    o->nesterov = cb_jv_get(c, "nesterov")->boolean;
  } else {
    o->beta1 = cb_jv_get(c, "betas")->items[0].num;
    o->beta2 = cb_jv_get(c, "betas")->items[1].num;
    o->eps = cb_jv_get(c, "eps")->num;
  }
}

static void test_against_torch(void **s) {
  (void)s;
  fixture x;
  load(&x);
  int64_t n = x.off[N_T];
  float *w = malloc((size_t)n * sizeof(float)), *g = malloc((size_t)n * sizeof(float));
  float *want = malloc((size_t)n * sizeof(float));
  assert_true(x.configs.n >= 7);
  for (int c = 0; c < x.configs.n; c++) {
    const cb_jv *cj = &x.configs.items[c];
    const char *name = cb_jv_get(cj, "name")->str;
    cb_optim_cfg cfg;
    cfg_from_json(cj, &cfg);
    cb_optim *o = cb_optim_create(cb_backend_cpu(), &cfg, n);
    assert_non_null(o);
    get_flat(&x, "param", w);
    double worst = 0.0;
    for (int k = 0; k < x.scale.n; k++) {
      char pre[96];
      snprintf(pre, sizeof pre, "grad.%d", k);
      get_flat(&x, pre, g);
      cb_optim_step(o, w, g, cfg.lr * x.scale.items[k].num);
      snprintf(pre, sizeof pre, "%s.step%d", name, k + 1);
      get_flat(&x, pre, want);
      worst = fmax(worst, compare(&x, w, want, pre));
    }
    assert_int_equal(o->steps, x.scale.n);
    for (int k = 0; k < o->n_slots; k++) {
      char pre[96];
      snprintf(pre, sizeof pre, "%s.state.%s", name, cb_optim_slot_name(o, k));
      get_flat(&x, pre, want);
      worst = fmax(worst, compare(&x, o->slot[k], want, pre));
    }
    fprintf(stderr, "%-16s %d steps, %d state slots: worst error %.1e (bound %.0e)\n", name,
            x.scale.n, o->n_slots, worst, TOL);
    cb_optim_free(o);
  }
  free(w);
  free(g);
  free(want);
  unload(&x);
}

static void test_config_checks(void **s) {
  (void)s;
  cb_optim_cfg c;
  cb_optim_cfg_default(&c, CB_OPTIM_SGD);
  assert_int_equal(cb_optim_cfg_validate(&c), 0);
  c.nesterov = 1;
  assert_int_equal(cb_optim_cfg_validate(&c), -1);
  assert_non_null(strstr(cb_last_error(), "Nesterov"));
  c.momentum = 1.0;
  assert_int_equal(cb_optim_cfg_validate(&c), -1);
  cb_optim_cfg_default(&c, CB_OPTIM_ADAMW);
  assert_true(c.weight_decay == 0.01); /* torch's AdamW default */
  c.beta2 = 1.0;
  assert_int_equal(cb_optim_cfg_validate(&c), -1);
  assert_non_null(strstr(cb_last_error(), "betas"));
  cb_optim_cfg_default(&c, CB_OPTIM_ADAM);
  c.lr = NAN;
  assert_null(cb_optim_create(cb_backend_cpu(), &c, 10));
  assert_non_null(strstr(cb_last_error(), "learning rate"));
  cb_optim_cfg_default(&c, CB_OPTIM_SGD);
  cb_optim *o = cb_optim_create(cb_backend_cpu(), &c, 10);
  assert_int_equal(o->n_slots, 0); /* plain SGD keeps no state */
  cb_optim_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_against_torch),
      cmocka_unit_test(test_config_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
