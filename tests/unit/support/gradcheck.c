#include "tests/unit/support/gradcheck.h"

#include "tests/unit/support.h"
#include "tests/unit/support/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference runs in double and its central differences with h = 1e-5 on
 * O(1) values are accurate to about 1e-9 relative (truncation h^2 f'''/6,
 * round-off 1e-16/h), so the bounds below measure the float32 layers alone.
 * A float32 sum of K products carries a relative error of order 1e-7..1e-6
 * for the sizes used here; the bounds leave a factor of about ten. */
gc_opts gc_defaults(int n, uint64_t seed) {
  gc_opts o = {.n = n,
               .seed = seed,
               .fwd_tol = 1e-5,
               .grad_tol = 1e-5,
               .ps_tol = 1e-5,
               .h = 1e-5,
               .in_lo = -1.0f,
               .in_hi = 1.0f};
  return o;
}

double gc_compare(const char *what, const float *got, const double *want, int64_t n, double tol) {
  double num = 0.0, den = 0.0, maxw = 0.0, maxd = 0.0;
  int64_t worst = 0;
  for (int64_t j = 0; j < n; j++) {
    double d = fabs((double)got[j] - want[j]);
    num += d * d;
    den += want[j] * want[j];
    maxw = fmax(maxw, fabs(want[j]));
    if (d > maxd) {
      maxd = d;
      worst = j;
    }
  }
  double rel = den > 0 ? sqrt(num / den) : sqrt(num);
  double elem = maxw > 0 ? maxd / maxw : maxd;
  int ok = rel <= tol && elem <= tol;
  if (!ok || getenv("CB_TEST_VERBOSE"))
    fprintf(stderr, "%-48s rel L2 %.2e, max elem %.2e (bound %.0e)%s; worst [%lld] %.9g vs %.9g\n",
            what, rel, elem, tol, ok ? "" : " FAIL", (long long)worst, n ? got[worst] : 0.0,
            n ? want[worst] : 0.0);
  assert_true(ok);
  return rel;
}

double *gc_random_params(cb_model *m, uint64_t seed) {
  float *h = malloc((size_t)m->n_params * sizeof(float));
  double *d = malloc((size_t)m->n_params * sizeof(double));
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    int gn_weight = m->nodes[ts->node].kind == CB_NODE_GN && !ts->is_bias;
    tst_fill_uniform(h + ts->offset, (size_t)ts->numel, seed * 1000 + (uint64_t)t,
                     gn_weight ? 0.5f : -1.0f, gn_weight ? 1.5f : 1.0f);
  }
  for (int64_t j = 0; j < m->n_params; j++)
    d[j] = h[j];
  m->be->upload(m->be, m->params, h, (size_t)m->n_params * sizeof(float));
  free(h);
  return d;
}

static double objective(const cb_model *m, const double *params, const double *x, const double *R,
                        int n, ref_gates *g) {
  double **outs = ref_forward_gated(m, params, x, n, g);
  const cb_node *last = &m->nodes[m->n_nodes - 1];
  int64_t sz = (int64_t)n * last->C * last->H * last->W;
  double J = 0.0;
  for (int64_t j = 0; j < sz; j++)
    J += outs[m->n_nodes - 1][j] * R[j];
  ref_outputs_free(m, outs);
  return J;
}

/* Central difference of J along coordinate j of v (params or input), with
 * the gates of the base point frozen (ref.h). */
static double fd(const cb_model *m, double *params, double *x, const double *R, int n, double *v,
                 int64_t j, double h, ref_gates *g) {
  double s = v[j];
  v[j] = s + h;
  double jp = objective(m, params, x, R, n, g);
  v[j] = s - h;
  double jm = objective(m, params, x, R, n, g);
  v[j] = s;
  return (jp - jm) / (2.0 * h);
}

static int64_t size_of(const cb_node *nd) {
  return (int64_t)nd->C * nd->H * nd->W;
}

static float *download(cb_model *m, const float *dev, int64_t len) {
  float *h = malloc((size_t)len * sizeof(float));
  m->be->download(m->be, h, dev, (size_t)len * sizeof(float));
  return h;
}

/* Per-sample gradients of every parameterised node, [n x p_numel] each. */
typedef struct {
  float *g[256];
  double *ghost_w[256], *ghost_b[256];
} per_sample;

void gc_check_per_sample(cb_model *m, const gc_opts *o, const float *x, const unsigned char *labels,
                         const float *R) {
  const cb_backend *be = m->be;
  int n = o->n;
  int64_t T = (int64_t)m->H * m->W;
  const cb_node *in = &m->nodes[0], *last = &m->nodes[m->n_nodes - 1];
  int64_t xs = size_of(in), ys = size_of(last);
  per_sample ps = {0};
  char what[160];
  /* The batch run's state: forward and backward done by the caller. */
  for (int k = 0; k < m->n_nodes && k < 256; k++) {
    cb_node *nd = &m->nodes[k];
    if (!cb_node_is_param(nd)) continue;
    float *dev = be->alloc(be, (size_t)n * nd->p_numel * sizeof(float), "per-sample");
    cb_node_grad_per_sample(m, k, n, dev, nd->p_numel);
    ps.g[k] = download(m, dev, (int64_t)n * nd->p_numel);

    /* Weighted sum with beta against the materialised rows. */
    float *coef = malloc((size_t)n * sizeof(float));
    float *dst0 = malloc((size_t)nd->p_numel * sizeof(float));
    double *want = malloc((size_t)nd->p_numel * sizeof(double));
    tst_fill_uniform(coef, (size_t)n, o->seed + 7, -1.0f, 2.0f);
    tst_fill_uniform(dst0, (size_t)nd->p_numel, o->seed + 8, -1.0f, 1.0f);
    for (int64_t j = 0; j < nd->p_numel; j++) {
      want[j] = 0.5 * dst0[j];
      for (int i = 0; i < n; i++)
        want[j] += (double)coef[i] * ps.g[k][i * nd->p_numel + j];
    }
    be->upload(be, dev, dst0, (size_t)nd->p_numel * sizeof(float));
    cb_node_grad_weighted(m, k, n, coef, dev, 0.5f);
    float *got = download(m, dev, nd->p_numel);
    snprintf(what, sizeof what, "%s: sum_i c_i g_i + 0.5 dst", nd->name);
    gc_compare(what, got, want, nd->p_numel, o->ps_tol);
    free(got);
    free(coef);
    free(dst0);
    free(want);
    be->free(be, dev);

    if (cb_node_has_ghost(nd)) {
      int64_t T, p, d;
      cb_node_gemm_dims(m, nd, &T, &p, &d);
      float *scratch = be->alloc(be, (size_t)(2 * T * T) * sizeof(float), "ghost scratch");
      ps.ghost_w[k] = calloc((size_t)n, sizeof(double));
      ps.ghost_b[k] = calloc((size_t)n, sizeof(double));
      cb_node_ghost_sqnorm(m, k, n, scratch, ps.ghost_w[k], ps.ghost_b[k]);
      be->free(be, scratch);
    }
  }

  float one = 1.0f;
  for (int i = 0; i < n; i++) {
    /* Image i alone. */
    be->upload(be, m->input, x + i * xs, (size_t)xs * sizeof(float));
    cb_model_forward(m, 1);
    if (R) {
      cb_model_backward_from(m, 1, R + i * ys);
    } else {
      be->upload(be, m->labels, labels + i * T, (size_t)T);
      cb_model_loss(m, 1);
      cb_model_backward(m, 1);
    }
    cb_model_param_grads(m, 1, &one);
    float *g1 = download(m, m->grads, m->n_params);
    for (int k = 0; k < m->n_nodes && k < 256; k++) {
      cb_node *nd = &m->nodes[k];
      if (!ps.g[k]) continue;
      const float *row = ps.g[k] + i * nd->p_numel;
      double *want = malloc((size_t)nd->p_numel * sizeof(double));
      for (int64_t j = 0; j < nd->p_numel; j++)
        want[j] = g1[nd->p_off + j];
      snprintf(what, sizeof what, "%s: per-sample g_%d vs batch of one", nd->name, i);
      gc_compare(what, row, want, nd->p_numel, o->ps_tol);
      free(want);
      if (ps.ghost_w[k]) {
        int64_t wn = m->tensors[nd->w_tensor].numel;
        double sw = 0.0, sb = 0.0;
        for (int64_t j = 0; j < nd->p_numel; j++) {
          if (j < wn)
            sw += (double)row[j] * row[j];
          else
            sb += (double)row[j] * row[j];
        }
        float gw = (float)ps.ghost_w[k][i], gb = (float)ps.ghost_b[k][i];
        snprintf(what, sizeof what, "%s: ghost |g_%d,w|^2 vs materialised", nd->name, i);
        gc_compare(what, &gw, &sw, 1, o->ps_tol);
        snprintf(what, sizeof what, "%s: ghost |g_%d,b|^2 vs materialised", nd->name, i);
        gc_compare(what, &gb, &sb, 1, o->ps_tol);
      }
    }
    free(g1);
  }
  for (int k = 0; k < 256; k++) {
    free(ps.g[k]);
    free(ps.ghost_w[k]);
    free(ps.ghost_b[k]);
  }
}

void gc_check_graph(cb_model *m, const gc_opts *o) {
  const cb_backend *be = m->be;
  int n = o->n;
  assert_true(n >= 1 && n <= m->max_batch);
  const cb_node *in = &m->nodes[0], *last = &m->nodes[m->n_nodes - 1];
  int64_t xs = size_of(in), ys = size_of(last);
  double *params = gc_random_params(m, o->seed);
  float *x = malloc((size_t)(n * xs) * sizeof(float));
  float *R = malloc((size_t)(n * ys) * sizeof(float));
  double *xd = malloc((size_t)(n * xs) * sizeof(double));
  double *Rd = malloc((size_t)(n * ys) * sizeof(double));
  tst_fill_uniform(x, (size_t)(n * xs), o->seed + 1, o->in_lo, o->in_hi);
  tst_fill_uniform(R, (size_t)(n * ys), o->seed + 2, -1.0f, 1.0f);
  for (int64_t j = 0; j < n * xs; j++)
    xd[j] = x[j];
  for (int64_t j = 0; j < n * ys; j++)
    Rd[j] = R[j];

  /* 1. forward */
  be->upload(be, m->input, x, (size_t)(n * xs) * sizeof(float));
  cb_model_forward(m, n);
  float *y = download(m, last->out, n * ys);
  ref_gates *gates = ref_gates_new(m, n);
  double **outs = ref_forward_gated(m, params, xd, n, gates);
  gates->replay = 1;
  gc_compare("forward output", y, outs[m->n_nodes - 1], n * ys, o->fwd_tol);
  ref_outputs_free(m, outs);
  free(y);

  /* 2. backward against finite differences */
  float *ones = malloc((size_t)n * sizeof(float));
  for (int i = 0; i < n; i++)
    ones[i] = 1.0f;
  cb_model_backward_from(m, n, R);
  cb_model_param_grads(m, n, ones);
  float *dx = download(m, in->dout, n * xs);
  float *dp = download(m, m->grads, m->n_params);
  double *want = malloc((size_t)(n * xs > m->n_params ? n * xs : m->n_params) * sizeof(double));
  for (int64_t j = 0; j < n * xs; j++)
    want[j] = fd(m, params, xd, Rd, n, xd, j, o->h, gates);
  gc_compare("input gradient vs finite differences", dx, want, n * xs, o->grad_tol);
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    for (int64_t j = 0; j < ts->numel; j++)
      want[j] = fd(m, params, xd, Rd, n, params, ts->offset + j, o->h, gates);
    char what[160];
    snprintf(what, sizeof what, "%s gradient vs finite differences", ts->name);
    gc_compare(what, dp + ts->offset, want, ts->numel, o->grad_tol);
  }
  ref_gates_free(m, gates);
  free(want);
  free(dx);
  free(dp);
  free(ones);

  /* 3-4. per-sample gradients and ghost norms (the batch state is intact:
   * param_grads does not touch activations or output gradients). */
  gc_check_per_sample(m, o, x, NULL, R);

  free(params);
  free(x);
  free(R);
  free(xd);
  free(Rd);
}
