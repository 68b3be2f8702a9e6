/* DP engine: per-sample gradients, ghost norms, clipping invariants, noise,
 * random sparsification and adaptive clipping on tiny U-Net / Nested U-Net. */
#include "core/base/error.h"
#include "core/dp/dp.h"
#include "core/kernels/philox.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define H 16
#define W 16
#define K 3
#define NB 3

typedef struct {
  cb_model *m;
  float *x;
  unsigned char *y;
} fixture;

static fixture make(int arch, int bias, int up) {
  cb_model_cfg c;
  cb_model_cfg_default(&c, (cb_arch)arch);
  c.width = 4;
  c.depth = 2;
  c.classes = K;
  c.groups = 2;
  c.bias = bias;
  c.up = up;
  fixture f;
  f.m = cb_model_create(cb_backend_cpu(), &c, H, W);
  assert_non_null(f.m);
  assert_int_equal(cb_model_alloc(f.m, NB), 0);
  cb_model_init_params(f.m, 7);
  f.x = malloc(sizeof(float) * NB * H * W);
  f.y = malloc(NB * H * W);
  tst_fill_uniform(f.x, NB * H * W, 11, -1.0f, 1.0f);
  for (int i = 0; i < NB * H * W; i++)
    f.y[i] = (unsigned char)((i * 7 + i / 13) % K);
  return f;
}

static void release(fixture *f) {
  cb_model_free(f->m);
  free(f->x);
  free(f->y);
}

/* Loads images [first, first+n) and runs forward, loss and backward. */
static void run(fixture *f, int first, int n) {
  memcpy(f->m->input, f->x + first * H * W, sizeof(float) * n * H * W);
  memcpy(f->m->labels, f->y + first * H * W, (size_t)n * H * W);
  cb_model_forward(f->m, n);
  cb_model_loss(f->m, n);
  cb_model_backward(f->m, n);
}

static double norm(const float *v, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += (double)v[i] * v[i];
  return sqrt(s);
}

/* Gradient of image i alone (batch of one), all parameters. */
static float *single_grad(fixture *f, int i) {
  cb_model *m = f->m;
  run(f, i, 1);
  float one = 1.0f;
  cb_model_param_grads(m, 1, &one);
  float *g = malloc(sizeof(float) * m->n_params);
  memcpy(g, m->grads, sizeof(float) * m->n_params);
  return g;
}

static void check_per_sample_equals_single(int arch, int bias, int up) {
  fixture f = make(arch, bias, up);
  cb_model *m = f.m;
  float *single[NB];
  for (int i = 0; i < NB; i++)
    single[i] = single_grad(&f, i);
  run(&f, 0, NB);
  for (int node = 0; node < m->n_nodes; node++) {
    const cb_node *nd = &m->nodes[node];
    if (!cb_node_is_param(nd)) continue;
    float *rows = malloc(sizeof(float) * NB * nd->p_numel);
    cb_node_grad_per_sample(m, node, NB, rows, nd->p_numel);
    for (int i = 0; i < NB; i++) {
      const float *ref = single[i] + nd->p_off;
      double d = 0, s = norm(ref, nd->p_numel);
      for (int64_t j = 0; j < nd->p_numel; j++) {
        double e = rows[i * nd->p_numel + j] - ref[j];
        d += e * e;
      }
      if (sqrt(d) > 1e-5 * fmax(s, 1e-6))
        fail_msg("%s sample %d: |diff| %g |ref| %g", nd->name, i, sqrt(d), s);
    }
    free(rows);
  }
  for (int i = 0; i < NB; i++)
    free(single[i]);
  release(&f);
}

static void per_sample_unet(void **s) {
  (void)s;
  check_per_sample_equals_single(CB_ARCH_UNET, 0, CB_UP_TRANSPOSE);
  check_per_sample_equals_single(CB_ARCH_UNET, 1, CB_UP_BILINEAR);
}

static void per_sample_nested(void **s) {
  (void)s;
  check_per_sample_equals_single(CB_ARCH_NESTED_UNET, 1, CB_UP_BILINEAR);
  check_per_sample_equals_single(CB_ARCH_NESTED_UNET, 0, CB_UP_TRANSPOSE);
}

/* Ghost norms of every conv layer equal the materialised norms. */
static void check_ghost(int arch, int up) {
  fixture f = make(arch, 1, up);
  cb_model *m = f.m;
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  c.noise_multiplier = 0;
  c.expected_batch = NB;
  c.norm_rule = CB_NORM_GHOST;
  cb_dp *g = cb_dp_create(m, &c);
  c.norm_rule = CB_NORM_MATERIALISE;
  cb_dp *mat = cb_dp_create(m, &c);
  assert_non_null(g);
  assert_non_null(mat);
  cb_dp_step_info info = {0, 0, 0};
  run(&f, 0, NB);
  cb_dp_begin_step(g, &info);
  assert_int_equal(cb_dp_accumulate(g, NB), 0);
  double *a = malloc(sizeof(double) * NB * m->n_tensors);
  memcpy(a, cb_dp_last_tensor_sqnorms(g), sizeof(double) * NB * m->n_tensors);
  float *ga = malloc(sizeof(float) * m->n_params);
  cb_dp_finish_step(g, NULL);
  memcpy(ga, m->grads, sizeof(float) * m->n_params);
  cb_dp_begin_step(mat, &info);
  assert_int_equal(cb_dp_accumulate(mat, NB), 0);
  const double *b = cb_dp_last_tensor_sqnorms(mat);
  int ghost_layers = 0;
  for (int node = 0; node < m->n_nodes; node++)
    ghost_layers += cb_dp_node_uses_ghost(g, node);
  assert_true(ghost_layers > 0);
  for (int i = 0; i < NB * m->n_tensors; i++)
    if (tst_rel_err(a[i], b[i], 1e-12) > 1e-4)
      fail_msg("tensor %s sample %d: ghost %.9g materialised %.9g",
               m->tensors[i % m->n_tensors].name, i / m->n_tensors, a[i], b[i]);
  cb_dp_finish_step(mat, NULL);
  /* The clipped sums agree too (BK reweighted GEMM vs weighted rows). */
  double d = 0, s = norm(m->grads, m->n_params);
  for (int64_t j = 0; j < m->n_params; j++)
    d += pow(ga[j] - m->grads[j], 2);
  assert_true(sqrt(d) <= 1e-5 * s);
  free(a);
  free(ga);
  cb_dp_free(g);
  cb_dp_free(mat);
  release(&f);
}

static void ghost_equals_materialised(void **s) {
  (void)s;
  check_ghost(CB_ARCH_UNET, CB_UP_TRANSPOSE);
  check_ghost(CB_ARCH_NESTED_UNET, CB_UP_BILINEAR);
  check_ghost(CB_ARCH_NESTED_UNET, CB_UP_TRANSPOSE);
}

/* Runs one logical step on images [0, n) with noise off and expected batch 1,
 * so m->grads is exactly the clipped sum. */
static cb_dp *step(fixture *f, cb_dp_cfg *c, int first, int n) {
  c->noise_multiplier = 0;
  c->expected_batch = 1;
  cb_dp *dp = cb_dp_create(f->m, c);
  assert_non_null(dp);
  cb_dp_step_info info = {0, 0, 0};
  cb_dp_begin_step(dp, &info);
  run(f, first, n);
  assert_int_equal(cb_dp_accumulate(dp, n), 0);
  assert_int_equal(cb_dp_finish_step(dp, NULL), 0);
  return dp;
}

/* One image's clipped contribution never exceeds the bound (flat), however
 * large its gradient; small gradients pass unchanged. */
static void flat_bound_holds(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_UNET, 1, CB_UP_TRANSPOSE);
  for (int i = 0; i < NB; i++) {
    float *g = single_grad(&f, i);
    double gn = norm(g, f.m->n_params);
    double bounds[3] = {gn * 0.01, gn * 0.5, gn * 2.0};
    for (int b = 0; b < 3; b++) {
      cb_dp_cfg c;
      cb_dp_cfg_default(&c);
      c.mode = CB_CLIP_FLAT;
      c.clip_bound = bounds[b];
      cb_dp *dp = step(&f, &c, i, 1);
      double out = norm(f.m->grads, f.m->n_params);
      assert_true(out <= bounds[b]);
      if (bounds[b] > gn)
        assert_true(tst_rel_err(out, gn, 1e-12) < 1e-5);
      else
        assert_true(out > bounds[b] * (1 - 1e-4));
      cb_dp_free(dp);
    }
    free(g);
  }
  release(&f);
}

/* With noise off the update equals the hand-computed sum_i min(1, C/|g_i|) g_i. */
static void flat_sum_by_hand(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_NESTED_UNET, 1, CB_UP_BILINEAR);
  cb_model *m = f.m;
  float *g[NB];
  double C = 0;
  for (int i = 0; i < NB; i++) {
    g[i] = single_grad(&f, i);
    C += norm(g[i], m->n_params) / NB; /* some samples clipped, some not */
  }
  double *ref = calloc((size_t)m->n_params, sizeof(double));
  for (int i = 0; i < NB; i++) {
    double c = fmin(1.0, C / (norm(g[i], m->n_params) + 1e-6));
    for (int64_t j = 0; j < m->n_params; j++)
      ref[j] += c * g[i][j];
  }
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  c.mode = CB_CLIP_FLAT;
  c.clip_bound = C;
  cb_dp *dp = step(&f, &c, 0, NB);
  double d = 0, sref = 0;
  for (int64_t j = 0; j < m->n_params; j++) {
    d += pow(m->grads[j] - ref[j], 2);
    sref += ref[j] * ref[j];
  }
  assert_true(sqrt(d) <= 2e-5 * sqrt(sref));
  cb_dp_free(dp);
  for (int i = 0; i < NB; i++)
    free(g[i]);
  free(ref);
  release(&f);
}

/* Per-layer: each tensor of a single image is within its own bound C_k, and
 * the noise uses the L2 norm of the thresholds. */
static void per_layer_bounds(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_UNET, 1, CB_UP_TRANSPOSE);
  cb_model *m = f.m;
  for (int rule = 0; rule < 2; rule++) {
    cb_dp_cfg c;
    cb_dp_cfg_default(&c);
    c.mode = CB_CLIP_PER_LAYER;
    c.clip_bound = 1e-3;
    c.thresholds = (cb_threshold_rule)rule;
    cb_dp *dp = step(&f, &c, 1, 1);
    int K_ = cb_dp_n_groups(dp);
    assert_int_equal(K_, m->n_tensors);
    double ck = rule == CB_THRESH_SAME ? 1e-3 : 1e-3 / sqrt((double)K_);
    for (int t = 0; t < m->n_tensors; t++) {
      double tn = norm(m->grads + m->tensors[t].offset, m->tensors[t].numel);
      assert_true(tn <= ck);
    }
    double want = 1.0 * (rule == CB_THRESH_SAME ? 1e-3 * sqrt((double)K_) : 1e-3);
    cb_dp_free(dp);
    c.noise_multiplier = 1.0;
    dp = cb_dp_create(m, &c);
    assert_true(tst_rel_err(cb_dp_noise_std(dp), want, 1e-12) < 1e-12);
    cb_dp_free(dp);
  }
  /* Per-layer (weight and bias together) groups. */
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  c.mode = CB_CLIP_PER_LAYER;
  c.group_by = CB_GROUP_LAYER;
  c.clip_bound = 1e-3;
  cb_dp *dp = step(&f, &c, 2, 1);
  for (int node = 0; node < m->n_nodes; node++) {
    const cb_node *nd = &m->nodes[node];
    if (cb_node_is_param(nd)) assert_true(norm(m->grads + nd->p_off, nd->p_numel) <= 1e-3);
  }
  cb_dp_free(dp);
  release(&f);
}

/* Automatic clipping: |R g/(|g|+gamma)| < R for every sample, all-layer and
 * per-layer scope, AUTO-S and AUTO-V. */
static void automatic_bounds(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_NESTED_UNET, 1, CB_UP_BILINEAR);
  cb_model *m = f.m;
  for (int scope = 0; scope < 2; scope++)
    for (int v = 0; v < 2; v++) {
      cb_dp_cfg c;
      cb_dp_cfg_default(&c);
      c.mode = CB_CLIP_AUTOMATIC;
      c.clip_bound = 0.7;
      c.per_layer_scope = scope;
      c.auto_variant = (cb_auto_variant)v;
      c.thresholds = CB_THRESH_SPLIT;
      float *g = single_grad(&f, 0);
      double gn = norm(g, m->n_params);
      cb_dp *dp = step(&f, &c, 0, 1);
      double out = norm(m->grads, m->n_params);
      assert_true(out < 0.7);
      if (!scope) {
        double want = v == CB_AUTO_V ? 0.7 : 0.7 * gn / (gn + 0.01);
        assert_true(tst_rel_err(out, want, 1e-12) < 2e-5);
      }
      cb_dp_free(dp);
      free(g);
    }
  release(&f);
}

/* Noise: N(0, (sigma C)^2) per coordinate, divided by the expected batch;
 * same seed and step give the same noise, another step another draw. */
static void noise_statistics(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_UNET, 1, CB_UP_TRANSPOSE);
  cb_model *m = f.m;
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  c.mode = CB_CLIP_FLAT;
  c.clip_bound = 2.0;
  c.noise_multiplier = 1.5;
  c.expected_batch = 4.0;
  c.seed = 1234;
  cb_dp *dp = cb_dp_create(m, &c);
  cb_dp_step_info info = {5, 0, 5};
  cb_dp_begin_step(dp, &info);
  cb_dp_accumulate(dp, 0); /* empty Poisson batch: pure noise */
  cb_dp_finish_step(dp, NULL);
  int64_t P = m->n_params;
  double mean = 0, var = 0;
  for (int64_t j = 0; j < P; j++)
    mean += m->grads[j];
  mean /= P;
  for (int64_t j = 0; j < P; j++)
    var += pow(m->grads[j] - mean, 2);
  double sd = sqrt(var / (P - 1)), want = 1.5 * 2.0 / 4.0;
  /* P ~ 1e4: mean within 5 standard errors, sd within 5% */
  assert_true(fabs(mean) < 5 * want / sqrt((double)P));
  assert_true(fabs(sd / want - 1) < 0.05);
  float *first = malloc(sizeof(float) * P);
  memcpy(first, m->grads, sizeof(float) * P);
  cb_dp_begin_step(dp, &info);
  cb_dp_finish_step(dp, NULL);
  assert_memory_equal(first, m->grads, sizeof(float) * P);
  info.step = 6;
  cb_dp_begin_step(dp, &info);
  cb_dp_finish_step(dp, NULL);
  int same = 0;
  for (int64_t j = 0; j < P; j++)
    same += first[j] == m->grads[j];
  assert_true(same < P / 100);
  /* Kurtosis near 3: the draws are Gaussian, not uniform. */
  double m4 = 0;
  for (int64_t j = 0; j < P; j++)
    m4 += pow(m->grads[j], 4);
  m4 /= P;
  assert_true(fabs(m4 / pow(want, 4) - 3.0) < 0.3);
  free(first);
  cb_dp_free(dp);
  release(&f);
}

/* Random sparsification: masked coordinates get neither signal nor noise,
 * kept ones get both; masks change exactly at the period boundaries; the
 * rate follows r_k = r* k / (refresh E - 1). */
/* Privacy promise: every parameter tensor of both architectures receives
 * noise of the mode's standard deviation (a tensor left out of the noise
 * would pass a test over all coordinates pooled together). */
static void noise_reaches_every_tensor(void **s) {
  (void)s;
  const int modes[] = {CB_CLIP_FLAT, CB_CLIP_PER_LAYER, CB_CLIP_AUTOMATIC, CB_CLIP_ADAPTIVE};
  const int archs[][2] = {{CB_ARCH_UNET, CB_UP_TRANSPOSE}, {CB_ARCH_NESTED_UNET, CB_UP_BILINEAR}};
  for (int a = 0; a < 2; a++) {
    fixture f = make(archs[a][0], 1, archs[a][1]);
    cb_model *m = f.m;
    for (size_t k = 0; k < sizeof modes / sizeof *modes; k++) {
      cb_dp_cfg c;
      cb_dp_cfg_default(&c);
      c.mode = (cb_clip_mode)modes[k];
      c.clip_bound = 1.5;
      c.noise_multiplier = 0.8;
      c.expected_batch = 2.0;
      c.seed = 99 + (uint64_t)k;
      cb_dp *dp = cb_dp_create(m, &c);
      assert_non_null(dp);
      cb_dp_step_info info = {3, 0, 3};
      assert_int_equal(cb_dp_begin_step(dp, &info), 0);
      assert_int_equal(cb_dp_accumulate(dp, 0), 0); /* empty batch: noise only */
      assert_int_equal(cb_dp_finish_step(dp, NULL), 0);
      const double want = cb_dp_noise_std(dp) / c.expected_batch;
      assert_true(want > 0);
      for (int t = 0; t < m->n_tensors; t++) {
        const cb_tensor *tt = &m->tensors[t];
        const float *g = m->grads + tt->offset;
        double ss = 0;
        for (int64_t j = 0; j < tt->numel; j++) {
          if (g[j] == 0.0f || !(fabs(g[j]) < 7 * want))
            fail_msg("%s, mode %s: %s[%lld] = %g (noise std %g)", CB_ARCH_NAMES[archs[a][0]],
                     CB_CLIP_NAMES[modes[k]], tt->name, (long long)j, g[j], want);
          ss += (double)g[j] * g[j];
        }
        double sd = sqrt(ss / (double)tt->numel);
        /* sd of n draws: relative error ~ 1/sqrt(2n); 5 of those for n >= 256 */
        if (tt->numel >= 256 && fabs(sd / want - 1) > 5 / sqrt(2.0 * (double)tt->numel))
          fail_msg("%s, mode %s: %s has noise sd %g, expected %g", CB_ARCH_NAMES[archs[a][0]],
                   CB_CLIP_NAMES[modes[k]], tt->name, sd, want);
      }
      cb_dp_free(dp);
    }
    release(&f);
  }
}

static void sparsification(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_UNET, 1, CB_UP_TRANSPOSE);
  cb_model *m = f.m;
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  c.mode = CB_CLIP_RS;
  c.clip_bound = 1.0;
  c.noise_multiplier = 1.0;
  c.expected_batch = 2.0;
  c.rs_final_rate = 0.9;
  c.rs_refresh = 2;
  c.epochs = 3;
  c.steps_per_epoch = 5;
  /* schedule: periods 0..5, rate 0.9*k/5 */
  for (int k = 0; k < 6; k++)
    assert_true(fabs(cb_rs_rate(&c, k) - 0.9 * k / 5.0) < 1e-15);
  /* periods: steps 0,1,2 of an epoch -> first half (5*1/2 = 2.5), 3,4 -> second */
  int want_period[5] = {0, 0, 0, 1, 1};
  for (int st = 0; st < 5; st++) {
    cb_dp_step_info in = {(uint32_t)(10 + st), 2, st};
    assert_int_equal(cb_rs_period(&c, &in), 4 + want_period[st]);
  }
  cb_dp *dp = cb_dp_create(m, &c);
  int64_t P = m->n_params;
  unsigned char *prev = malloc((size_t)P);
  float *g = malloc(sizeof(float) * P);
  int changes = 0;
  for (int st = 0; st < 5; st++) {
    cb_dp_step_info info = {(uint32_t)(5 + st), 1, st};
    cb_dp_begin_step(dp, &info);
    run(&f, 0, 2);
    cb_dp_accumulate(dp, 2);
    cb_dp_step_result r;
    cb_dp_finish_step(dp, &r);
    /* Count drops and check zero gradient exactly on dropped coordinates. */
    unsigned char *keep = malloc((size_t)P);
    int64_t dropped = 0;
    uint32_t *perm = malloc(sizeof(uint32_t) * P);
    cb_rs_mask(c.seed, cb_rs_period(&c, &info), cb_rs_rate(&c, cb_rs_period(&c, &info)), P, keep,
               perm);
    free(perm);
    for (int64_t j = 0; j < P; j++) {
      if (!keep[j]) {
        dropped++;
        assert_true(m->grads[j] == 0.0f);
      } else {
        assert_true(m->grads[j] != 0.0f);
      }
    }
    assert_int_equal(dropped, (int64_t)floor(r.sparsity_rate * P));
    if (st > 0 && memcmp(prev, keep, (size_t)P) != 0) changes++;
    if (st == 3) assert_true(memcmp(prev, keep, (size_t)P) != 0); /* boundary */
    memcpy(prev, keep, (size_t)P);
    free(keep);
  }
  assert_int_equal(changes, 1);
  /* Without noise the per-sample clipped, masked gradient stays within C. */
  cb_dp_free(dp);
  c.clip_bound = 1e-4;
  dp = step(&f, &c, 0, 1);
  assert_true(norm(m->grads, P) <= 1e-4);
  cb_dp_free(dp);
  free(prev);
  free(g);
  release(&f);
}

/* Adaptive clipping: on a fixed norm distribution the bound converges to the
 * target quantile, with the count noise switched on. */
static void adaptive_converges(void **s) {
  (void)s;
  const int n = 200;
  double norms[200], sorted[200];
  for (int i = 0; i < n; i++)
    norms[i] = exp(cb_gauss(3, 77, 0, (uint64_t)i)); /* lognormal */
  memcpy(sorted, norms, sizeof norms);
  double q50 = cb_percentile(sorted, n, 50), q90 = cb_percentile(sorted, n, 90);
  double targets[2] = {0.5, 0.9}, want[2] = {q50, q90};
  for (int k = 0; k < 2; k++) {
    double C = 0.01, avg = 0;
    for (int t = 0; t < 600; t++) {
      double unclipped = 0;
      for (int i = 0; i < n; i++)
        unclipped += norms[i] <= C;
      double z = cb_gauss(5, CB_STREAM_COUNT, (uint32_t)t, 0) * (n / 20.0);
      C = cb_adaptive_next_bound(C, unclipped, n, n, z, 0.2, targets[k]);
      if (t >= 400) avg += log(C) / 200;
    }
    assert_true(fabs(exp(avg) / want[k] - 1) < 0.15);
  }
  double zd;
  assert_int_equal(cb_adaptive_sigma_delta(1.0, 50.0, &zd), 0);
  assert_true(zd > 1.0 && zd < 1.0001);
  assert_int_equal(cb_adaptive_sigma_delta(1.0, 0.4, &zd), -1);
}

/* A model with a parameterised layer the engine has no rule for is refused. */
static void refuses_unknown_layer(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_UNET, 1, CB_UP_TRANSPOSE);
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  /* Pretend the first GroupNorm were a layer kind without a rule. */
  for (int i = 0; i < f.m->n_nodes; i++)
    if (f.m->nodes[i].kind == CB_NODE_GN) {
      f.m->nodes[i].kind = CB_NODE_RELU;
      break;
    }
  assert_null(cb_dp_create(f.m, &c));
  assert_non_null(strstr(cb_last_error(), "no per-sample gradient rule"));
  release(&f);
}

/* Poisson sampling: frequency q, deterministic per (seed, step), empty
 * batches possible. */
static void poisson(void **s) {
  (void)s;
  int idx[1000], idx2[1000];
  long total = 0;
  for (uint32_t st = 0; st < 200; st++)
    total += cb_poisson_batch(9, st, 1000, 0.1, idx);
  double rate = total / 200000.0;
  assert_true(fabs(rate - 0.1) < 5 * sqrt(0.1 * 0.9 / 200000.0));
  int a = cb_poisson_batch(9, 3, 1000, 0.1, idx), b = cb_poisson_batch(9, 3, 1000, 0.1, idx2);
  assert_int_equal(a, b);
  assert_memory_equal(idx, idx2, sizeof(int) * a);
  int empty = 0;
  for (uint32_t st = 0; st < 100; st++)
    empty += cb_poisson_batch(1, st, 10, 0.05, idx) == 0;
  assert_true(empty > 40); /* (0.95)^10 = 0.6 */
}

/* Statistics: percentiles ordered, fraction clipped consistent. */
static void statistics(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_UNET, 1, CB_UP_TRANSPOSE);
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  c.mode = CB_CLIP_FLAT;
  cb_dp *dp = step(&f, &c, 0, NB);
  double p[CB_NPCT];
  cb_dp_stats_percentiles(dp, p);
  for (int k = 1; k < CB_NPCT; k++)
    assert_true(p[k] >= p[k - 1]);
  const double *tot = cb_dp_last_total_norms(dp);
  double mx = 0;
  int over = 0;
  for (int i = 0; i < NB; i++) {
    mx = fmax(mx, tot[i]);
    over += tot[i] > 1.0;
  }
  assert_true(p[CB_NPCT - 1] == mx);
  assert_true(fabs(cb_dp_stats_frac_clipped(dp) - (double)over / NB) < 1e-12);
  /* Flat: one row per parameter layer under the model-wide C, each scaled
   * exactly when its sample was. */
  cb_dp_group_stats *g = malloc(sizeof *g * (size_t)cb_dp_stats_max_groups(dp));
  int ng = cb_dp_stats_groups(dp, g), layers = 0;
  for (int i = 0; i < f.m->n_nodes; i++)
    layers += cb_node_is_param(&f.m->nodes[i]);
  assert_int_equal(ng, layers);
  for (int k = 0; k < ng; k++) {
    assert_string_equal(g[k].scope, "model");
    assert_true(g[k].median >= 0 && g[k].p90 >= g[k].median && g[k].max >= g[k].p90);
    assert_true(g[k].bound == 1.0);
    assert_true(fabs(g[k].frac_clipped - (double)over / NB) < 1e-12);
  }
  free(g);
  cb_dp_free(dp);
  release(&f);
}

/* Per-group statistics of per-layer clipping are those of the groups as
 * clipped (each tensor, or each layer's weight and bias together), against
 * each group's own bound: the fraction clipped and the max recomputed from the
 * per-tensor squared norms. */
static void group_statistics(void **s) {
  (void)s;
  fixture f = make(CB_ARCH_UNET, 1, CB_UP_TRANSPOSE);
  cb_model *m = f.m;
  for (int by = 0; by < 2; by++) {
    cb_dp_cfg c;
    cb_dp_cfg_default(&c);
    c.mode = CB_CLIP_PER_LAYER;
    c.group_by = by ? CB_GROUP_LAYER : CB_GROUP_TENSOR;
    c.thresholds = CB_THRESH_SPLIT;
    c.clip_bound = 0.5;
    cb_dp *dp = step(&f, &c, 0, NB);
    int ngr = cb_dp_n_groups(dp);
    assert_true(cb_dp_stats_max_groups(dp) >= ngr);
    cb_dp_group_stats *g = malloc(sizeof *g * (size_t)cb_dp_stats_max_groups(dp));
    assert_int_equal(cb_dp_stats_groups(dp, g), ngr);
    const double *tsq = cb_dp_last_tensor_sqnorms(dp);
    int some_clipped = 0, some_not = 0;
    for (int k = 0; k < ngr; k++) {
      assert_string_equal(g[k].scope, by ? "layer" : "tensor");
      assert_true(tst_rel_err(g[k].bound, cb_dp_group_bound(dp, k), 1e-12) < 1e-12);
      int over = 0;
      double mx = 0;
      for (int i = 0; i < NB; i++) {
        double sq = 0;
        for (int t = 0; t < m->n_tensors; t++)
          if (cb_dp_tensor_group(dp, t) == k) sq += tsq[(size_t)i * m->n_tensors + t];
        over += sqrt(sq) > g[k].bound;
        mx = fmax(mx, sqrt(sq));
      }
      assert_true(fabs(g[k].frac_clipped - (double)over / NB) < 1e-12);
      assert_true(tst_rel_err(g[k].max, mx, 1e-12) < 1e-12);
      assert_true(g[k].median <= g[k].p90 && g[k].p90 <= g[k].max);
      some_clipped |= over > 0;
      some_not |= over < NB;
    }
    assert_true(some_clipped && some_not);
    /* Tensor groups are named after their tensors. */
    if (!by) assert_string_equal(g[0].name, m->tensors[0].name);
    free(g);
    cb_dp_free(dp);
  }
  release(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(per_sample_unet),
      cmocka_unit_test(per_sample_nested),
      cmocka_unit_test(ghost_equals_materialised),
      cmocka_unit_test(flat_bound_holds),
      cmocka_unit_test(flat_sum_by_hand),
      cmocka_unit_test(per_layer_bounds),
      cmocka_unit_test(group_statistics),
      cmocka_unit_test(automatic_bounds),
      cmocka_unit_test(noise_statistics),
      cmocka_unit_test(noise_reaches_every_tensor),
      cmocka_unit_test(sparsification),
      cmocka_unit_test(adaptive_converges),
      cmocka_unit_test(refuses_unknown_layer),
      cmocka_unit_test(poisson),
      cmocka_unit_test(statistics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
