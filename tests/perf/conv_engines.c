/* conv_engines: how much faster oneDNN's convolution primitives are than our
 * im2col + OpenBLAS convolution, per convolution layer of U-Net / Nested
 * U-Net (issue 20, "choose the convolution engine by measurement"). A
 * measurement tool, not an engine: built only where libdnnl is installed.
 *
 * The shapes come from the model builders themselves (core/models: every
 * Conv2d and ConvTranspose2d node of the graph cb_model_create builds), one
 * entry per distinct shape with the number of layers that have it. Each
 * shape is timed on its first layer through our own layer functions
 * (core/nn/layers.h, the functions the training step calls) and through
 * oneDNN over the whole batch, in interleaved rounds (every engine and pass
 * of every shape once per round; the best round counts), after a first
 * round that warms up and checks that oneDNN's results equal ours.
 *
 * Passes: forward (with bias); input gradient; weight gradient summed over
 * the batch with per-sample coefficients c_i, which is the DP clipped sum
 * sum_i c_i g_i (ours: cb_node_grad_weighted2; oneDNN: backward-weights on
 * dy_i scaled by c_i, the scaling timed with it). Then the per-sample norm
 * work of flat clipping under the default mixed rule (ghost norm where
 * 2T^2 < p*d, else materialised per-sample gradients), and for the
 * materialised layers the same per-sample gradients from a batch-1 oneDNN
 * backward-weights primitive called once per image. */
#include "tests/perf/conv_engines.h"

#include "core/base/cores.h"
#include "core/base/error.h"
#include "core/nn/layers.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHAPES 64
/* OpenBLAS's own build string (cblas.h of OpenBLAS declares it; the
 * generic cblas.h does not). */
char *openblas_get_config(void);
#define CHECK_TOL 1e-4

/* Engines timed per pass: ours, oneDNN in NCHW, oneDNN blocked (its chosen
 * layout) with the reorders from and to our NCHW, and the blocked
 * primitive alone (what a pipeline kept in that layout would pay). */
enum { E_OURS, E_NCHW, E_BLK, E_BLK_PRIM, E_N };
static const char *const PASS_NAMES[CE_PASSES] = {"fwd", "bwd-data", "bwd-wgt"};

typedef struct {
  ce_shape s;
  int node, count, needs_dx;
  int ghost; /* the mixed rule's choice for the per-sample norms */
  double flops;
  float *x, *y, *yd, *dy, *dys, *dx, *dxd, *dw, *dwd, *rows, *rowsd, *scratch;
  float *coef;
  double *nw, *nb;
  ce_dnnl *plain, *blk;
  ce_dnnl_ps *ps;
  double best[CE_PASSES][E_N];
  double err[CE_PASSES][2]; /* NCHW, blocked vs ours */
  /* Per-sample work: ours (norms, clipped sum), oneDNN's per-sample
   * gradients (materialised layers), the row norms both share. */
  double t_norms, t_sum, t_ps_ours, t_ps_dnnl, t_sqnorm, err_ps;
} shape_t;

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float urand(void) { /* splitmix64 -> [-1, 1) */
  uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)((z >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static float *falloc(int64_t n, int random) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (!p) {
    fprintf(stderr, "conv_engines: out of memory (%lld floats)\n", (long long)n);
    exit(1);
  }
  for (int64_t i = 0; i < n; i++)
    p[i] = random ? urand() : 0.0f;
  return p;
}

/* max |a - b| / max |b|: the error relative to the size of the result. */
static double rel_err(const float *a, const float *b, int64_t n) {
  double d = 0.0, s = 0.0;
  for (int64_t i = 0; i < n; i++) {
    d = fmax(d, fabs((double)a[i] - b[i]));
    s = fmax(s, fabs((double)b[i]));
  }
  return s > 0.0 ? d / s : d;
}

static int64_t x_len(const shape_t *t) {
  return (int64_t)t->s.n * t->s.cin * t->s.h * t->s.w;
}
static int64_t y_len(const shape_t *t) {
  return (int64_t)t->s.n * t->s.cout * t->s.oh * t->s.ow;
}
static int64_t w_len(const shape_t *t) {
  return (int64_t)t->s.cout * t->s.cin * t->s.k * t->s.k;
}

static ce_shape shape_of(const cb_model *m, const cb_node *nd, int n) {
  const cb_node *in = &m->nodes[nd->in[0]];
  ce_shape s = {0};
  s.transposed = nd->kind == CB_NODE_CONVT;
  s.n = n, s.cin = in->C, s.cout = nd->C, s.h = in->H, s.w = in->W, s.oh = nd->H, s.ow = nd->W;
  s.k = s.transposed ? 2 : nd->k;
  s.stride = s.transposed ? 2 : 1;
  s.pad = s.transposed ? 0 : nd->k / 2;
  s.bias = nd->b_tensor >= 0;
  return s;
}

/* Points the layer's node (and its input node) at this shape's buffers, so
 * our layer functions read and write them. */
static void bind_ours(cb_model *m, shape_t *t, float *dx) {
  cb_node *nd = &m->nodes[t->node], *in = &m->nodes[nd->in[0]];
  in->out = t->x;
  in->dout = dx;
  nd->out = t->y;
  nd->dout = t->dy;
}

static double ours_pass(cb_model *m, shape_t *t, int p) {
  cb_node *nd = &m->nodes[t->node];
  const cb_backend *be = m->be;
  bind_ours(m, t, t->dx);
  if (p == CE_BWD_DATA) memset(t->dx, 0, sizeof(float) * (size_t)x_len(t)); /* it accumulates */
  double t0 = ce_now_ms();
  if (p == CE_FWD)
    (t->s.transposed ? cb_convt_forward : cb_conv_forward)(m, nd, t->s.n);
  else if (p == CE_BWD_DATA)
    (t->s.transposed ? cb_convt_backward : cb_conv_backward)(m, nd, t->s.n);
  else
    cb_node_grad_weighted2(m, t->node, t->s.n, t->coef, t->coef, t->dw, 0.0f);
  be->sync(be);
  return ce_now_ms() - t0;
}

/* dys_i = c_i dy_i: the output gradients the clipped sum is a weight
 * gradient of. */
static void scale_dy(shape_t *t) {
  int64_t per = y_len(t) / t->s.n;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < y_len(t); j++)
    t->dys[j] = t->coef[j / per] * t->dy[j];
}

static void check(shape_t *t, int p, int which) {
  double e = p == CE_FWD        ? rel_err(t->yd, t->y, y_len(t))
             : p == CE_BWD_DATA ? rel_err(t->dxd, t->dx, x_len(t))
                                : rel_err(t->dwd, t->dw, w_len(t) + (t->s.bias ? t->s.cout : 0));
  t->err[p][which] = fmax(t->err[p][which], e);
}

static void min_into(double *best, double v) {
  if (!(*best > 0.0) || v < *best) *best = v;
}

/* One round over every pass and engine of shape t; check compares results. */
static void round_shape(cb_model *m, shape_t *t, const float *w, const float *b, int check_now) {
  for (int p = 0; p < CE_PASSES; p++) {
    if (p == CE_BWD_DATA && !t->needs_dx) continue;
    min_into(&t->best[p][E_OURS], ours_pass(m, t, p));
    for (int e = 0; e < 2; e++) {
      ce_dnnl *d = e ? t->blk : t->plain;
      if (!d) continue;
      double prim = 0.0, extra = 0.0;
      ce_bufs bufs = {t->x, w, b, t->dy, t->yd, t->dxd, t->dwd, t->dwd + w_len(t)};
      if (p == CE_BWD_WEIGHTS) {
        double t0 = ce_now_ms();
        scale_dy(t);
        extra = ce_now_ms() - t0;
        bufs.dy = t->dys;
      }
      double all = ce_dnnl_run(d, p, &bufs, &prim) + extra;
      min_into(&t->best[p][e ? E_BLK : E_NCHW], all);
      if (e) min_into(&t->best[p][E_BLK_PRIM], prim + extra);
      if (check_now) check(t, p, e);
    }
  }
  /* Per-sample norm work of flat clipping (core/dp/clip_step.c). */
  int n = t->s.n;
  cb_node *nd = &m->nodes[t->node];
  int64_t wn = w_len(t), pn = nd->p_numel;
  bind_ours(m, t, t->dx);
  if (t->ghost) {
    double t0 = ce_now_ms();
    cb_node_ghost_sqnorm(m, t->node, n, t->scratch, t->nw, t->nb);
    min_into(&t->t_norms, ce_now_ms() - t0);
    t->t_sum = t->best[CE_BWD_WEIGHTS][E_OURS]; /* the clipped sum is the reweighted GEMM */
    return;
  }
  double t0 = ce_now_ms();
  cb_node_grad_per_sample(m, t->node, n, t->rows, pn);
  double t1 = ce_now_ms();
  cb_rows_sqnorm(m, t->rows, wn, pn, n, t->nw);
  if (t->s.bias) cb_rows_sqnorm(m, t->rows + wn, pn - wn, pn, n, t->nb);
  double t2 = ce_now_ms();
  cb_upload_coef(m, n, t->coef);
  cb_weighted_rows(m, n, wn, t->rows, pn, t->dw, 0.0f);
  if (t->s.bias) cb_weighted_rows(m, n, pn - wn, t->rows + wn, pn, t->dw + wn, 0.0f);
  double t3 = ce_now_ms();
  min_into(&t->t_ps_ours, t1 - t0);
  min_into(&t->t_sqnorm, t2 - t1);
  min_into(&t->t_norms, t2 - t0);
  min_into(&t->t_sum, t3 - t2);
  if (t->ps) {
    min_into(&t->t_ps_dnnl, ce_dnnl_ps_run(t->ps, n, t->x, t->dy, t->rowsd, pn));
    if (check_now) t->err_ps = fmax(t->err_ps, rel_err(t->rowsd, t->rows, (int64_t)n * pn));
  }
}

static int same_shape(const shape_t *t, const ce_shape *s, int needs_dx) {
  return !memcmp(&t->s, s, sizeof *s) && t->needs_dx == needs_dx;
}

static void describe(const shape_t *t, char *buf, size_t n) {
  snprintf(buf, n, "%s%dx%d %d->%d %dx%d%s", t->s.transposed ? "convT" : "conv", t->s.k, t->s.k,
           t->s.cin, t->s.cout, t->s.oh, t->s.ow, t->s.bias ? " +b" : "");
}

static void usage(void) {
  fprintf(stderr, "usage: conv_engines [--arch unet|nested_unet] [--width N] [--size PX] "
                  "[--batch-size N] [--threads N] [--rounds N] [--bias yes|no]\n");
}

int main(int argc, char **argv) {
  /* Idle OpenMP threads sleep instead of spinning, as in clipbench itself
   * (core/base/cores.h): ours, OpenBLAS's and oneDNN's share libgomp. */
  cb_omp_wait_policy_reexec(argv);
  const char *arch = "unet";
  int width = 16, size = 128, batch = 10, threads = 2, rounds = 5, bias = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      usage();
      return 2;
    }
    i++;
    if (!strcmp(a, "--arch"))
      arch = v;
    else if (!strcmp(a, "--width"))
      width = atoi(v);
    else if (!strcmp(a, "--size"))
      size = atoi(v);
    else if (!strcmp(a, "--batch-size"))
      batch = atoi(v);
    else if (!strcmp(a, "--threads"))
      threads = atoi(v);
    else if (!strcmp(a, "--rounds"))
      rounds = atoi(v);
    else if (!strcmp(a, "--bias"))
      bias = !strcmp(v, "yes");
    else {
      usage();
      return 2;
    }
  }
  if ((strcmp(arch, "unet") && strcmp(arch, "nested_unet")) || width < 1 || size < 16 ||
      batch < 1 || threads < 1 || rounds < 1) {
    usage();
    return 2;
  }
  const cb_backend *be = cb_backend_cpu();
  be->set_threads(be, threads);
  cb_model_cfg cfg;
  cb_model_cfg_default(&cfg, !strcmp(arch, "nested_unet") ? CB_ARCH_NESTED_UNET : CB_ARCH_UNET);
  cfg.width = width;
  cfg.bias = bias;
  cb_model_cfg_resolve(&cfg);
  cb_model *m = cb_model_create(be, &cfg, size, size);
  if (!m || cb_model_alloc(m, batch) || !ce_dnnl_init()) {
    fprintf(stderr, "conv_engines: %s\n", cb_last_error());
    return 1;
  }
  cb_model_init_params(m, 1);

  shape_t *sh = calloc(MAX_SHAPES, sizeof *sh);
  int ns = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const cb_node *nd = &m->nodes[i];
    if (nd->kind != CB_NODE_CONV && nd->kind != CB_NODE_CONVT) continue;
    ce_shape s = shape_of(m, nd, batch);
    int j = 0;
    while (j < ns && !same_shape(&sh[j], &s, nd->needs_dx))
      j++;
    if (j == ns) {
      if (ns == MAX_SHAPES) return 1;
      sh[ns].s = s, sh[ns].node = i, sh[ns].needs_dx = nd->needs_dx, ns++;
    }
    sh[j].count++;
  }

  printf("conv_engines: %s width %d, %dx%d, batch %d, %d thread%s, best of %d interleaved rounds "
         "(after 1 warm-up/check round); OMP_WAIT_POLICY %s; oneDNN %s; OpenBLAS %s\n",
         arch, width, size, size, batch, threads, threads == 1 ? "" : "s", rounds,
         cb_omp_wait_policy_desc(), ce_dnnl_version(), openblas_get_config());
  for (int j = 0; j < ns; j++) {
    shape_t *t = &sh[j];
    cb_node *nd = &m->nodes[t->node];
    int64_t T, p, d;
    cb_node_gemm_dims(m, nd, &T, &p, &d);
    t->ghost = 2 * T * T < p * d;
    t->flops = 2.0 * (double)T * p * d * batch;
    t->x = falloc(x_len(t), 1);
    t->y = falloc(y_len(t), 0), t->yd = falloc(y_len(t), 0);
    t->dy = falloc(y_len(t), 1), t->dys = falloc(y_len(t), 0);
    t->dx = falloc(x_len(t), 0), t->dxd = falloc(x_len(t), 0);
    t->dw = falloc(nd->p_numel, 0), t->dwd = falloc(nd->p_numel, 0);
    t->coef = falloc(batch, 0);
    for (int i = 0; i < batch; i++)
      t->coef[i] = 0.6f + 0.4f * urand(); /* clipping factors in (0.2, 1] */
    t->nw = calloc((size_t)batch, sizeof(double));
    t->nb = calloc((size_t)batch, sizeof(double));
    if (t->ghost) {
      t->scratch = falloc(2 * T * T, 0);
    } else {
      t->rows = falloc((int64_t)batch * nd->p_numel, 0);
      t->rowsd = falloc((int64_t)batch * nd->p_numel, 0);
      t->ps = ce_dnnl_ps_create(&t->s);
    }
    t->plain = ce_dnnl_create(&t->s, 0, t->needs_dx);
    t->blk = ce_dnnl_create(&t->s, 1, t->needs_dx);
  }

  for (int r = 0; r <= rounds; r++)
    for (int j = 0; j < ns; j++) {
      shape_t *t = &sh[j];
      cb_node *nd = &m->nodes[t->node];
      const float *w = m->params + m->tensors[nd->w_tensor].offset;
      const float *b = nd->b_tensor >= 0 ? m->params + m->tensors[nd->b_tensor].offset : NULL;
      if (r == 0) {
        /* The warm-up round: its times are discarded, its results checked. */
        round_shape(m, t, w, b, 1);
        memset(t->best, 0, sizeof t->best);
        t->t_norms = t->t_sum = t->t_ps_ours = t->t_ps_dnnl = t->t_sqnorm = 0.0;
      } else {
        round_shape(m, t, w, b, 0);
      }
    }

  /* Per layer. */
  int bad = 0;
  /* pick: per layer and pass the faster of oneDNN's NCHW and blocked
   * (reorders included), as an engine chosen by measurement would. */
  double tot[CE_PASSES][E_N] = {{0}}, pick[CE_PASSES] = {0}, flops[CE_PASSES] = {0};
  double dp_ours = 0.0, dp_dnnl = 0.0, share_tot = 0.0;
  /* ghost norms, ghost sums ours / oneDNN, materialised ours / oneDNN */
  double dp_part[5] = {0};
  printf("\nPer distinct layer shape (xN: layers of that shape; ms of one call over the batch; "
         "ratio = ours / oneDNN):\n");
  for (int j = 0; j < ns; j++) {
    shape_t *t = &sh[j];
    char name[96];
    describe(t, name, sizeof name);
    double own = 0.0;
    for (int p = 0; p < CE_PASSES; p++)
      own += t->best[p][E_OURS];
    share_tot += own * t->count;
    printf("\n%-28s x%-2d first: %s  (%.2f GFLOP per pass)\n", name, t->count,
           m->nodes[t->node].name, t->flops * 1e-9);
    for (int p = 0; p < CE_PASSES; p++) {
      if (p == CE_BWD_DATA && !t->needs_dx) {
        printf("  %-8s (none: the network input needs no gradient)\n", PASS_NAMES[p]);
        continue;
      }
      double *b = t->best[p];
      double o = b[E_OURS];
      printf("  %-8s ours %8.2f ms %6.1f GF/s | NCHW %8.2f ms %6.1f GF/s %5.2fx [%s]"
             " | blocked %8.2f ms (conv only %8.2f) %5.2fx / %5.2fx [%s %s] | err %.1e %.1e\n",
             PASS_NAMES[p], o, t->flops / o * 1e-6, b[E_NCHW], t->flops / b[E_NCHW] * 1e-6,
             o / b[E_NCHW], ce_dnnl_impl(t->plain, p), b[E_BLK], b[E_BLK_PRIM], o / b[E_BLK],
             o / b[E_BLK_PRIM], ce_dnnl_impl(t->blk, p), ce_dnnl_layouts(t->blk, p), t->err[p][0],
             t->err[p][1]);
      if (t->err[p][0] > CHECK_TOL || t->err[p][1] > CHECK_TOL || !t->plain || !t->blk) bad = 1;
      for (int e = 0; e < E_N; e++)
        tot[p][e] += b[e] * t->count;
      pick[p] += fmin(b[E_NCHW], b[E_BLK]) * t->count;
      flops[p] += t->flops * t->count;
    }
    /* Flat clipping's per-sample work on this layer, and what oneDNN could
     * take over: the clipped sum of a ghost layer is the bwd-wgt pass above;
     * a materialised layer's per-sample gradients are batch-1 bwd-wgt calls. */
    double alt;
    if (t->ghost) {
      double best_w = fmin(t->best[CE_BWD_WEIGHTS][E_NCHW], t->best[CE_BWD_WEIGHTS][E_BLK]);
      alt = t->t_norms + best_w;
      printf("  DP flat  ghost norms %8.2f ms (stay ours) + clipped sum %8.2f ms"
             " -> with oneDNN's bwd-wgt %8.2f ms\n",
             t->t_norms, t->t_sum, alt);
    } else {
      alt = t->t_ps_dnnl + t->t_sqnorm + t->t_sum;
      printf("  DP flat  per-sample grads %8.2f ms + row norms %6.2f ms + clipped sum of rows %6.2f"
             " ms -> with oneDNN batch-1 bwd-wgt x%d %8.2f ms (%s) | err %.1e\n",
             t->t_ps_ours, t->t_sqnorm, t->t_sum, t->s.n, t->t_ps_dnnl + t->t_sqnorm + t->t_sum,
             t->ps ? "plain" : "unavailable", t->err_ps);
      if (!t->ps || t->err_ps > CHECK_TOL) bad = 1;
    }
    if (t->ghost) {
      dp_part[0] += t->t_norms * t->count;
      dp_part[1] += t->t_sum * t->count;
      dp_part[2] += fmin(alt - t->t_norms, t->t_sum) * t->count;
    } else {
      dp_part[3] += (t->t_norms + t->t_sum) * t->count;
      dp_part[4] += fmin(alt, t->t_norms + t->t_sum) * t->count;
    }
    dp_ours += (t->t_norms + t->t_sum) * t->count;
    dp_dnnl += fmin(alt, t->t_norms + t->t_sum) * t->count; /* the faster, as for pick */
  }

  printf("\nLayer shapes by their share of our conv time (fwd + bwd-data + bwd-wgt, x count):\n");
  for (int j = 0; j < ns; j++) {
    const shape_t *t = &sh[j];
    char name[96];
    describe(t, name, sizeof name);
    double own = 0.0, d1 = 0.0;
    for (int p = 0; p < CE_PASSES; p++) {
      own += t->best[p][E_OURS];
      d1 += fmin(t->best[p][E_NCHW], t->best[p][E_BLK]);
    }
    printf("  %-28s x%-2d %5.1f%%  ours %8.2f ms  oneDNN best %8.2f ms  %5.2fx\n", name, t->count,
           100.0 * own * t->count / share_tot, own * t->count, d1 * t->count, own / d1);
  }

  printf("\nTotals over the model's %s conv layers (each shape x its count), ms per step of batch "
         "%d:\n",
         arch, batch);
  printf("  %-8s %9s %9s %9s %13s %9s %7s %7s %7s %7s\n", "pass", "ours", "NCHW", "blocked",
         "blocked-conv", "pick", "ours/N", "ours/B", "ours/Bc", "ours/P");
  double sum[E_N] = {0}, sum_pick = 0.0;
  for (int p = 0; p < CE_PASSES; p++) {
    printf("  %-8s %9.1f %9.1f %9.1f %13.1f %9.1f %7.2f %7.2f %7.2f %7.2f  (GF/s: ours %.0f, "
           "pick %.0f)\n",
           PASS_NAMES[p], tot[p][E_OURS], tot[p][E_NCHW], tot[p][E_BLK], tot[p][E_BLK_PRIM],
           pick[p], tot[p][E_OURS] / tot[p][E_NCHW], tot[p][E_OURS] / tot[p][E_BLK],
           tot[p][E_OURS] / tot[p][E_BLK_PRIM], tot[p][E_OURS] / pick[p],
           flops[p] / tot[p][E_OURS] * 1e-6, flops[p] / pick[p] * 1e-6);
    for (int e = 0; e < E_N; e++)
      sum[e] += tot[p][e];
    sum_pick += pick[p];
  }
  printf("  %-8s %9.1f %9.1f %9.1f %13.1f %9.1f %7.2f %7.2f %7.2f %7.2f\n", "all 3", sum[E_OURS],
         sum[E_NCHW], sum[E_BLK], sum[E_BLK_PRIM], sum_pick, sum[E_OURS] / sum[E_NCHW],
         sum[E_OURS] / sum[E_BLK], sum[E_OURS] / sum[E_BLK_PRIM], sum[E_OURS] / sum_pick);
  printf(
      "  (N: oneDNN on NCHW; B: blocked with the reorders from/to NCHW; Bc: the blocked primitive "
      "alone; P, pick: per layer the faster of N and B)\n");
  printf(
      "  DP flat per-sample work (mixed rule): ghost layers: norms %.1f ms (stay ours) + clipped "
      "sums %.1f ms ours / %.1f ms oneDNN bwd-wgt; materialised layers: per-sample grads + norms "
      "+ sums %.1f ms ours / %.1f ms with oneDNN batch-1 where faster; all: %.1f ms ours, %.1f "
      "ms with oneDNN (%.2fx)\n",
      dp_part[0], dp_part[1], dp_part[2], dp_part[3], dp_part[4], dp_ours, dp_dnnl,
      dp_ours / dp_dnnl);
  double np_ours = sum[E_OURS], dp_o = tot[0][E_OURS] + tot[1][E_OURS] + dp_ours;
  double dp_d = pick[0] + pick[1] + dp_dnnl;
  printf("  conv work per step: non-private (3 passes) ours %.1f ms, oneDNN pick %.1f ms (%.2fx); "
         "DP flat (fwd + bwd-data + per-sample work) ours %.1f ms, oneDNN pick %.1f ms (%.2fx)\n",
         np_ours, sum_pick, np_ours / sum_pick, dp_o, dp_d, dp_o / dp_d);
  printf("\n%s\n", bad ? "CHECK FAILED: a oneDNN result differs from ours by more than 1e-4 "
                         "relative, or a primitive is missing"
                       : "check: every oneDNN result equals ours within 1e-4 relative");
  return bad;
}
