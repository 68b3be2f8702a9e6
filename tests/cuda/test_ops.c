/* Every operation of the backend table on the device against the CPU:
 *   - each kernel of CB_KERNEL_LIST on inputs that reach its branches
 *     (padding, strides, accumulate, ties, NaN, masks, first/later steps);
 *     the test list is generated from CB_KERNEL_LIST, so a kernel added
 *     without a parity case here does not compile. Bounds (parity.h):
 *     bit-identical, except softmax_nll and noise (2 ulps, 99.9% identical);
 *   - gemm in all four transpose combinations with padded leading
 *     dimensions, beta 0 / 1 / -0.5, K = 0, and gemm_batched with strides,
 *     within the GEMM bound of parity.h;
 *   - memory: upload/download round trips, copy (also overlapping, as
 *     memmove), zero, the in-use and peak counters, status. */
#include "core/kernels/philox.h"
#include "tests/cuda/support/parity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Runs `stmt` once per backend with P(buf) naming that backend's pointer. */
#define BOTH(stmt)                                      \
  for (int side_ = 0; side_ < 2; side_++) {             \
    const cb_backend *be = side_ ? pt_dev() : pt_cpu(); \
    stmt;                                               \
  }
#define P(b) (side_ ? (b).dev : (b).cpu)

static pt_bytes bytes_mod(int64_t n, int mod, int salt) {
  unsigned char *h = malloc((size_t)n);
  for (int64_t i = 0; i < n; i++)
    h[i] = (unsigned char)((i * 7 + i / 3 + salt) % mod);
  pt_bytes b = pt_bytes_from(h, n);
  free(h);
  return b;
}

static void parity_fill(void **s) {
  (void)s;
  pt_buf x = pt_buf_uniform(1001, 1, -1, 1);
  BOTH(cb_launch_fill(be, x.n, (cb_k_fill){P(x), -2.5f}));
  pt_check_exact("fill", &x);
  pt_buf_free(&x);
}

static void parity_scale(void **s) {
  (void)s;
  pt_buf x = pt_buf_uniform(1003, 2, -3, 3);
  BOTH(cb_launch_scale(be, x.n, (cb_k_scale){P(x), 0.3f}));
  pt_check_exact("scale", &x);
  pt_buf_free(&x);
}

static void parity_axpy(void **s) {
  (void)s;
  pt_buf y = pt_buf_uniform(999, 3, -1, 1), x = pt_buf_uniform(999, 4, -1, 1);
  BOTH(cb_launch_axpy(be, y.n, (cb_k_axpy){P(y), P(x), -0.7f}));
  pt_check_exact("axpy", &y);
  pt_buf_free(&y);
  pt_buf_free(&x);
}

/* Inputs with exact zeros and NaNs, the cases where ReLU conventions show. */
static pt_buf relu_input(int64_t n) {
  pt_buf x = pt_buf_uniform(n, 5, -1, 1);
  for (int64_t i = 0; i < n; i += 17)
    x.cpu[i] = 0.0f;
  for (int64_t i = 5; i < n; i += 101)
    x.cpu[i] = NAN;
  pt_buf_sync(&x);
  return x;
}

static void parity_relu_fwd(void **s) {
  (void)s;
  pt_buf x = relu_input(2000), y = pt_buf_uniform(2000, 6, -1, 1);
  BOTH(cb_launch_relu_fwd(be, x.n, (cb_k_relu_fwd){P(x), P(y)}));
  pt_check_exact("relu_fwd", &y);
  pt_buf_free(&x);
  pt_buf_free(&y);
}

static void parity_relu_bwd(void **s) {
  (void)s;
  pt_buf y = relu_input(2000), dy = pt_buf_uniform(2000, 7, -1, 1);
  pt_buf dx = pt_buf_uniform(2000, 8, -1, 1); /* accumulates */
  BOTH(cb_launch_relu_bwd(be, y.n, (cb_k_relu_bwd){P(y), P(dy), P(dx)}));
  pt_check_exact("relu_bwd", &dx);
  pt_buf_free(&y);
  pt_buf_free(&dy);
  pt_buf_free(&dx);
}

static void parity_concat_fwd(void **s) {
  (void)s;
  int N = 3, C = 4, T = 37, Cdst = 9, off = 5;
  pt_buf src = pt_buf_uniform((int64_t)N * C * T, 9, -1, 1);
  pt_buf dst = pt_buf_uniform((int64_t)N * Cdst * T, 10, -1, 1);
  BOTH(
      cb_launch_concat_fwd(be, (int64_t)N * C, (cb_k_concat_fwd){P(src), P(dst), C, T, Cdst, off}));
  pt_check_exact("concat_fwd", &dst);
  pt_buf_free(&src);
  pt_buf_free(&dst);
}

static void parity_concat_bwd(void **s) {
  (void)s;
  int N = 3, C = 2, T = 41, Cdst = 7, off = 3;
  pt_buf ddst = pt_buf_uniform((int64_t)N * Cdst * T, 11, -1, 1);
  pt_buf dsrc = pt_buf_uniform((int64_t)N * C * T, 12, -1, 1);
  BOTH(cb_launch_concat_bwd(be, (int64_t)N * C,
                            (cb_k_concat_bwd){P(ddst), P(dsrc), C, T, Cdst, off}));
  pt_check_exact("concat_bwd", &dsrc);
  pt_buf_free(&ddst);
  pt_buf_free(&dsrc);
}

static void parity_add_bias(void **s) {
  (void)s;
  int N = 2, C = 5, T = 63;
  pt_buf y = pt_buf_uniform((int64_t)N * C * T, 13, -1, 1), b = pt_buf_uniform(C, 14, -1, 1);
  BOTH(cb_launch_add_bias(be, (int64_t)N * C, (cb_k_add_bias){P(y), P(b), C, T}));
  pt_check_exact("add_bias", &y);
  pt_buf_free(&y);
  pt_buf_free(&b);
}

static void parity_bias_grad(void **s) {
  (void)s;
  int N = 3, C = 6, T = 300, ld = 11;
  pt_buf dy = pt_buf_uniform((int64_t)N * C * T, 15, -1, 1);
  pt_buf out = pt_buf_uniform((int64_t)N * ld, 16, -1, 1);
  BOTH(cb_launch_bias_grad(be, (int64_t)N * C, (cb_k_bias_grad){P(dy), P(out), C, T, ld}));
  pt_check_exact("bias_grad", &out);
  pt_buf_free(&dy);
  pt_buf_free(&out);
}

static void parity_mask_rows(void **s) {
  (void)s;
  int rows = 4;
  int64_t len = 77, ld = 90, off = 13;
  pt_buf x = pt_buf_uniform(rows * ld, 17, -1, 1);
  pt_bytes keep = bytes_mod(off + len + 5, 3, 1); /* 0 for a third of the coordinates */
  BOTH(cb_launch_mask_rows(be, rows * len, (cb_k_mask_rows){P(x), P(keep), len, ld, off}));
  pt_check_exact("mask_rows", &x);
  pt_buf_free(&x);
  pt_bytes_free(&keep);
}

static void parity_argmax(void **s) {
  (void)s;
  int N = 3, K = 5, T = 97;
  pt_buf z = pt_buf_uniform((int64_t)N * K * T, 18, -1, 1);
  for (int64_t t = 0; t < T; t += 7)
    z.cpu[2 * T + t] = z.cpu[4 * T + t] = 3.0f; /* ties */
  pt_buf_sync(&z);
  unsigned char *zero = calloc((size_t)N * T, 1);
  pt_bytes pred = pt_bytes_from(zero, (int64_t)N * T);
  BOTH(cb_launch_argmax(be, (int64_t)N * T, (cb_k_argmax){P(z), P(pred), K, T}));
  unsigned char *h = malloc((size_t)N * T);
  pt_dev()->download(pt_dev(), h, pred.dev, (size_t)N * T);
  pt_expect_exact_bytes("argmax", h, pred.cpu, (int64_t)N * T);
  free(h);
  free(zero);
  pt_buf_free(&z);
  pt_bytes_free(&pred);
}

/* Geometries of both users: 3x3 pad 1 stride 1 (Conv2d), 1x1, and 2x2
 * stride 2 (ConvTranspose2d), on odd sizes. */
static const cb_geom GEOMS[] = {
    {3, 7, 6, 3, 3, 1, 1, 7, 6},
    {2, 5, 9, 1, 1, 1, 0, 5, 9},
    {4, 8, 6, 2, 2, 2, 0, 4, 3},
    {2, 1, 1, 3, 3, 1, 1, 1, 1},
};

static void parity_im2col(void **s) {
  (void)s;
  for (size_t k = 0; k < sizeof GEOMS / sizeof GEOMS[0]; k++) {
    cb_geom g = GEOMS[k];
    int64_t rows = (int64_t)g.C * g.kh * g.kw;
    pt_buf x = pt_buf_uniform((int64_t)g.C * g.H * g.W, 19 + k, -1, 1);
    pt_buf col = pt_buf_uniform(rows * g.Ho * g.Wo, 29 + k, -1, 1);
    BOTH(cb_launch_im2col(be, rows * g.Ho, (cb_k_im2col){P(x), P(col), g}));
    pt_check_exact("im2col", &col);
    pt_buf_free(&x);
    pt_buf_free(&col);
  }
}

static void parity_col2im(void **s) {
  (void)s;
  for (size_t k = 0; k < sizeof GEOMS / sizeof GEOMS[0]; k++)
    for (int acc = 0; acc < 2; acc++) {
      cb_geom g = GEOMS[k];
      int64_t rows = (int64_t)g.C * g.kh * g.kw;
      pt_buf col = pt_buf_uniform(rows * g.Ho * g.Wo, 39 + k, -1, 1);
      pt_buf x = pt_buf_uniform((int64_t)g.C * g.H * g.W, 49 + k, -1, 1);
      BOTH(cb_launch_col2im(be, (int64_t)g.C * g.H, (cb_k_col2im){P(col), P(x), g, acc}));
      pt_check_exact(acc ? "col2im accumulate" : "col2im", &x);
      pt_buf_free(&col);
      pt_buf_free(&x);
    }
}

static void parity_maxpool_fwd(void **s) {
  (void)s;
  int NC = 5, H = 6, W = 8;
  pt_buf x = pt_buf_uniform((int64_t)NC * H * W, 59, -1, 1);
  for (int64_t i = 0; i < x.n; i += 13)
    x.cpu[i] = x.cpu[i + 1]; /* ties */
  x.cpu[20] = NAN;
  pt_buf_sync(&x);
  pt_buf y = pt_buf_uniform((int64_t)NC * H * W / 4, 60, -1, 1);
  unsigned char *zero = calloc((size_t)y.n, 1);
  pt_bytes idx = pt_bytes_from(zero, y.n);
  BOTH(
      cb_launch_maxpool_fwd(be, (int64_t)NC * H / 2, (cb_k_maxpool_fwd){P(x), P(y), P(idx), H, W}));
  pt_check_exact("maxpool_fwd", &y);
  unsigned char *h = malloc((size_t)y.n);
  pt_dev()->download(pt_dev(), h, idx.dev, (size_t)y.n);
  pt_expect_exact_bytes("maxpool_fwd argmax", h, idx.cpu, y.n);
  free(h);
  free(zero);
  pt_buf_free(&x);
  pt_buf_free(&y);
  pt_bytes_free(&idx);
}

static void parity_maxpool_bwd(void **s) {
  (void)s;
  int NC = 4, H = 6, W = 10;
  int64_t no = (int64_t)NC * H * W / 4;
  pt_buf dy = pt_buf_uniform(no, 61, -1, 1), dx = pt_buf_uniform((int64_t)NC * H * W, 62, -1, 1);
  pt_bytes idx = bytes_mod(no, 4, 2);
  BOTH(cb_launch_maxpool_bwd(be, (int64_t)NC * H, (cb_k_maxpool_bwd){P(dy), P(idx), P(dx), H, W}));
  pt_check_exact("maxpool_bwd", &dx);
  pt_buf_free(&dy);
  pt_buf_free(&dx);
  pt_bytes_free(&idx);
}

static const int UP_SIZES[][2] = {{3, 5}, {1, 4}, {8, 7}};

static void parity_upsample_fwd(void **s) {
  (void)s;
  for (int k = 0; k < 3; k++) {
    int NC = 3, H = UP_SIZES[k][0], W = UP_SIZES[k][1];
    pt_buf x = pt_buf_uniform((int64_t)NC * H * W, 63 + k, -1, 1);
    pt_buf y = pt_buf_uniform((int64_t)NC * 4 * H * W, 66 + k, -1, 1);
    BOTH(cb_launch_upsample_fwd(be, (int64_t)NC * 2 * H, (cb_k_upsample_fwd){P(x), P(y), H, W}));
    pt_check_exact("upsample_fwd", &y);
    pt_buf_free(&x);
    pt_buf_free(&y);
  }
}

static void parity_upsample_bwd(void **s) {
  (void)s;
  for (int k = 0; k < 3; k++) {
    int NC = 3, H = UP_SIZES[k][0], W = UP_SIZES[k][1];
    pt_buf dy = pt_buf_uniform((int64_t)NC * 4 * H * W, 69 + k, -1, 1);
    pt_buf dx = pt_buf_uniform((int64_t)NC * H * W, 72 + k, -1, 1);
    BOTH(cb_launch_upsample_bwd(be, (int64_t)NC * H, (cb_k_upsample_bwd){P(dy), P(dx), H, W}));
    pt_check_exact("upsample_bwd", &dx);
    pt_buf_free(&dy);
    pt_buf_free(&dx);
  }
}

/* GroupNorm: N=2, C=6, G=3, T=50, statistics from gn_stats on both sides
 * (themselves compared), so the later kernels see identical inputs. */
enum { GN_N = 2, GN_C = 6, GN_G = 3, GN_T = 50 };

typedef struct {
  pt_buf x, dy, gamma, beta, mean, rstd, s1, s2;
} gn_case;

static gn_case gn_setup(void) {
  gn_case g;
  int64_t n = (int64_t)GN_N * GN_C * GN_T, ng = GN_N * GN_G;
  g.x = pt_buf_uniform(n, 75, -2, 3);
  g.dy = pt_buf_uniform(n, 76, -1, 1);
  g.gamma = pt_buf_uniform(GN_C, 77, 0.5f, 1.5f);
  g.beta = pt_buf_uniform(GN_C, 78, -1, 1);
  g.mean = pt_buf_uniform(ng, 79, 0, 1);
  g.rstd = pt_buf_uniform(ng, 80, 0, 1);
  g.s1 = pt_buf_uniform(ng, 81, 0, 1);
  g.s2 = pt_buf_uniform(ng, 82, 0, 1);
  BOTH(cb_launch_gn_stats(be, ng,
                          (cb_k_gn_stats){P(g.x), P(g.mean), P(g.rstd), GN_C, GN_T, GN_G, 1e-5f}));
  BOTH(cb_launch_gn_bwd_reduce(be, ng,
                               (cb_k_gn_bwd_reduce){P(g.x), P(g.dy), P(g.mean), P(g.rstd),
                                                    P(g.gamma), P(g.s1), P(g.s2), GN_C, GN_T,
                                                    GN_G}));
  return g;
}

static void gn_free(gn_case *g) {
  pt_buf *b[] = {&g->x, &g->dy, &g->gamma, &g->beta, &g->mean, &g->rstd, &g->s1, &g->s2};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
    pt_buf_free(b[i]);
}

static void parity_gn_stats(void **s) {
  (void)s;
  gn_case g = gn_setup();
  pt_check_exact("gn_stats mean", &g.mean);
  pt_check_exact("gn_stats rstd", &g.rstd);
  gn_free(&g);
}

static void parity_gn_fwd(void **s) {
  (void)s;
  gn_case g = gn_setup();
  pt_buf y = pt_buf_uniform(g.x.n, 83, -1, 1);
  BOTH(cb_launch_gn_fwd(
      be, GN_N * GN_C,
      (cb_k_gn_fwd){P(g.x), P(g.mean), P(g.rstd), P(g.gamma), P(g.beta), P(y), GN_C, GN_T, GN_G}));
  pt_check_exact("gn_fwd", &y);
  pt_buf_free(&y);
  gn_free(&g);
}

static void parity_gn_bwd_reduce(void **s) {
  (void)s;
  gn_case g = gn_setup();
  pt_check_exact("gn_bwd_reduce s1", &g.s1);
  pt_check_exact("gn_bwd_reduce s2", &g.s2);
  gn_free(&g);
}

static void parity_gn_bwd_dx(void **s) {
  (void)s;
  gn_case g = gn_setup();
  pt_buf dx = pt_buf_uniform(g.x.n, 84, -1, 1);
  BOTH(cb_launch_gn_bwd_dx(be, GN_N * GN_C,
                           (cb_k_gn_bwd_dx){P(g.x), P(g.dy), P(g.mean), P(g.rstd), P(g.gamma),
                                            P(g.s1), P(g.s2), P(dx), GN_C, GN_T, GN_G}));
  pt_check_exact("gn_bwd_dx", &dx);
  pt_buf_free(&dx);
  gn_free(&g);
}

static void parity_gn_param_grad(void **s) {
  (void)s;
  gn_case g = gn_setup();
  int64_t ld = 2 * GN_C + 3;
  pt_buf out = pt_buf_uniform(GN_N * ld, 85, -1, 1);
  BOTH(cb_launch_gn_param_grad(
      be, GN_N * GN_C,
      (cb_k_gn_param_grad){P(g.x), P(g.dy), P(g.mean), P(g.rstd), P(out), GN_C, GN_T, GN_G, ld}));
  pt_check_exact("gn_param_grad", &out);
  pt_buf_free(&out);
  gn_free(&g);
}

/* Loss: N=3 images, K=4 classes, T=60 pixels; logits with a wide range so
 * the softmax's max subtraction matters. */
enum { LS_N = 3, LS_K = 4, LS_T = 60 };

typedef struct {
  pt_buf z, probs, nll, stats, ce;
  pt_bytes y;
} loss_case;

static loss_case loss_setup(void) {
  loss_case c;
  c.z = pt_buf_uniform(LS_N * LS_K * LS_T, 86, -8, 8);
  c.probs = pt_buf_uniform(LS_N * LS_K * LS_T, 87, 0, 1);
  c.nll = pt_buf_uniform(LS_N * LS_T, 88, 0, 1);
  c.stats = pt_buf_uniform(LS_N * LS_K * 3, 89, 0, 1);
  c.ce = pt_buf_uniform(LS_N, 90, 0, 1);
  c.y = bytes_mod(LS_N * LS_T, LS_K, 3);
  BOTH(cb_launch_softmax_nll(be, LS_N * LS_T,
                             (cb_k_softmax_nll){P(c.z), P(c.y), P(c.probs), P(c.nll), LS_K, LS_T}));
  return c;
}

static void loss_free(loss_case *c) {
  pt_buf_free(&c->z);
  pt_buf_free(&c->probs);
  pt_buf_free(&c->nll);
  pt_buf_free(&c->stats);
  pt_buf_free(&c->ce);
  pt_bytes_free(&c->y);
}

static void parity_softmax_nll(void **s) {
  (void)s;
  loss_case c = loss_setup();
  pt_check_ulps("softmax_nll probs", &c.probs, PT_MATH_ULPS, PT_MATH_IDENTICAL);
  pt_check_ulps("softmax_nll nll", &c.nll, PT_MATH_ULPS, PT_MATH_IDENTICAL);
  loss_free(&c);
}

/* The later loss kernels read the CPU's probabilities on both sides, so
 * they are compared on identical inputs (bit-identical expected). */
static void same_probs(loss_case *c) {
  pt_buf_sync(&c->probs);
  pt_buf_sync(&c->nll);
}

static void parity_loss_reduce(void **s) {
  (void)s;
  loss_case c = loss_setup();
  same_probs(&c);
  BOTH(cb_launch_loss_reduce(
      be, LS_N * (LS_K + 1),
      (cb_k_loss_reduce){P(c.probs), P(c.nll), P(c.y), P(c.stats), P(c.ce), LS_K, LS_T}));
  pt_check_exact("loss_reduce stats", &c.stats);
  pt_check_exact("loss_reduce ce", &c.ce);
  loss_free(&c);
}

static void parity_loss_bwd(void **s) {
  (void)s;
  for (int dice = 0; dice < 2; dice++) {
    loss_case c = loss_setup();
    same_probs(&c);
    BOTH(cb_launch_loss_reduce(
        be, LS_N * (LS_K + 1),
        (cb_k_loss_reduce){P(c.probs), P(c.nll), P(c.y), P(c.stats), P(c.ce), LS_K, LS_T}));
    pt_buf dz = pt_buf_uniform(LS_N * LS_K * LS_T, 91, -1, 1);
    BOTH(cb_launch_loss_bwd(be, LS_N * LS_T,
                            (cb_k_loss_bwd){P(c.probs), P(c.stats), P(c.y), P(dz), LS_K, LS_T, 1.0f,
                                            dice ? 0.7f : 0.0f, 1.0f}));
    pt_check_exact(dice ? "loss_bwd (CE + Dice)" : "loss_bwd (CE)", &dz);
    pt_buf_free(&dz);
    loss_free(&c);
  }
}

/* The study's batch-level loss (loss.reduction: batch), with and without
 * the Softmax2d input; both kernels evaluate exp/log in double. */
static void parity_batch_loss_fwd(void **s) {
  (void)s;
  for (int sm = 0; sm < 2; sm++) {
    loss_case c = loss_setup();
    BOTH(cb_launch_batch_loss_fwd(
        be, LS_N * LS_T,
        (cb_k_batch_loss_fwd){P(c.z), P(c.y), P(c.probs), P(c.nll), LS_K, LS_T, sm}));
    pt_check_ulps("batch_loss_fwd exp(S)", &c.probs, PT_MATH_ULPS, PT_MATH_IDENTICAL);
    pt_check_ulps("batch_loss_fwd nll", &c.nll, PT_MATH_ULPS, PT_MATH_IDENTICAL);
    loss_free(&c);
  }
}

static void parity_batch_loss_bwd(void **s) {
  (void)s;
  for (int sm = 0; sm < 2; sm++) {
    loss_case c = loss_setup();
    pt_buf st = pt_buf_uniform(2 * LS_K, 94, 1, 50),
           dz = pt_buf_uniform(LS_N * LS_K * LS_T, 95, -1, 1);
    BOTH(cb_launch_batch_loss_bwd(
        be, LS_N * LS_T,
        (cb_k_batch_loss_bwd){P(c.z), P(st), P(c.y), P(dz), LS_K, LS_T, LS_N, sm, 1.0f, 0.7f}));
    pt_check_ulps("batch_loss_bwd", &dz, PT_MATH_ULPS, PT_MATH_IDENTICAL);
    pt_buf_free(&st);
    pt_buf_free(&dz);
    loss_free(&c);
  }
}

static void parity_row_sumsq(void **s) {
  (void)s;
  int rows = 3, nch = 5;
  int64_t len = 1234, ld = 1300;
  pt_buf x = pt_buf_uniform(rows * ld, 92, -1, 1), y = pt_buf_uniform(rows * ld, 93, -1, 1);
  for (int dot = 0; dot < 2; dot++) {
    pt_dbuf part = pt_dbuf_zero(rows * nch);
    BOTH(cb_launch_row_sumsq(be, rows * nch,
                             (cb_k_row_sumsq){P(x), dot ? P(y) : NULL, P(part), len, ld, nch}));
    double *h = pt_download_d(part.dev, part.n);
    pt_expect_exact_d(dot ? "row_sumsq (dot)" : "row_sumsq", h, part.cpu, part.n);
    free(h);
    pt_dbuf_free(&part);
  }
  pt_buf_free(&x);
  pt_buf_free(&y);
}

/* Noise is checked at scale in test_philox; here the argument handling
 * (offset, mask, secure) on a small vector. */
static void parity_noise(void **s) {
  (void)s;
  int64_t n = 5000, off = 777;
  pt_bytes keep = bytes_mod(off + n, 4, 5);
  for (int secure = 0; secure < 2; secure++)
    for (int masked = 0; masked < 2; masked++) {
      pt_buf g = pt_buf_uniform(n, 94, -1, 1);
      BOTH(cb_launch_noise(
          be, n,
          (cb_k_noise){P(g), masked ? P(keep) : NULL, 0x1234abcdULL, 17, off, 0.37f, secure}));
      pt_check_ulps("noise", &g, PT_MATH_ULPS, PT_MATH_IDENTICAL);
      pt_buf_free(&g);
    }
  pt_bytes_free(&keep);
}

static void parity_sgd(void **s) {
  (void)s;
  int64_t n = 3001;
  for (int variant = 0; variant < 4; variant++) {
    float momentum = variant ? 0.9f : 0.0f;
    int nesterov = variant == 2, first = variant == 3;
    pt_buf w = pt_buf_uniform(n, 95, -1, 1), buf = pt_buf_uniform(n, 96, -1, 1);
    pt_buf g = pt_buf_uniform(n, 97, -1, 1);
    BOTH(cb_launch_sgd(be, n,
                       (cb_k_sgd){P(w), P(buf), P(g), 0.05f, momentum, 1e-3f, nesterov, first}));
    pt_check_exact("sgd weights", &w);
    pt_check_exact("sgd momentum buffer", &buf);
    pt_buf_free(&w);
    pt_buf_free(&buf);
    pt_buf_free(&g);
  }
}

static void parity_adam(void **s) {
  (void)s;
  int64_t n = 3001;
  for (int decoupled = 0; decoupled < 2; decoupled++) {
    pt_buf w = pt_buf_uniform(n, 98, -1, 1), m = pt_buf_uniform(n, 99, -0.1f, 0.1f);
    pt_buf v = pt_buf_uniform(n, 100, 0, 0.01f), g = pt_buf_uniform(n, 101, -1, 1);
    double lr = 1e-3, b1 = 0.9, b2 = 0.999, t = 3;
    cb_k_adam a0 = {NULL,
                    NULL,
                    NULL,
                    NULL,
                    (float)(1 - b1),
                    (float)b2,
                    (float)(1 - b2),
                    1e-8f,
                    decoupled ? 0.0f : 0.01f,
                    (float)(1 - lr * 0.01),
                    (float)(lr / (1 - pow(b1, t))),
                    (float)sqrt(1 - pow(b2, t)),
                    decoupled};
    BOTH(cb_k_adam a = a0; a.w = P(w); a.m = P(m); a.v = P(v); a.g = P(g);
         cb_launch_adam(be, n, a));
    pt_check_exact("adam weights", &w);
    pt_check_exact("adam m", &m);
    pt_check_exact("adam v", &v);
    pt_buf_free(&w);
    pt_buf_free(&m);
    pt_buf_free(&v);
    pt_buf_free(&g);
  }
}

/* ---- GEMM ---- */

static void check_gemm_elems(const char *what, const float *dev, const float *cpu, const float *A,
                             int lda, const float *B, int ldb, const float *C0, int ta, int tb,
                             int M, int N, int K, int ldc, float alpha, float beta) {
  double g = 2.0 * K * ldexp(1.0, -24);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double mag = fabs(beta * C0[i * ldc + j]);
      for (int k = 0; k < K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        mag += fabs(alpha * a * b);
      }
      double d = fabs((double)dev[i * ldc + j] - cpu[i * ldc + j]);
      if (d > g * mag + 1e-30)
        fail_msg("%s ta=%d tb=%d: C[%d,%d] device %.9g cpu %.9g beyond %.3g", what, ta, tb, i, j,
                 dev[i * ldc + j], cpu[i * ldc + j], g * mag);
    }
}

static void test_gemm(void **s) {
  (void)s;
  const int M = 19, N = 23, K = 37, pad = 3;
  const float betas[] = {0.0f, 1.0f, -0.5f};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int bi = 0; bi < 3; bi++) {
        int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
        pt_buf A = pt_buf_uniform((int64_t)(ta ? K : M) * lda, 110, -1, 1);
        pt_buf B = pt_buf_uniform((int64_t)(tb ? N : K) * ldb, 111, -1, 1);
        pt_buf C = pt_buf_uniform((int64_t)M * ldc, 112, -1, 1);
        float *C0 = malloc(sizeof(float) * C.n);
        memcpy(C0, C.cpu, sizeof(float) * C.n);
        BOTH(be->gemm(be, ta, tb, M, N, K, 1.25f, P(A), lda, P(B), ldb, betas[bi], P(C), ldc));
        float *h = pt_download(C.dev, C.n);
        check_gemm_elems("gemm", h, C.cpu, A.cpu, lda, B.cpu, ldb, C0, ta, tb, M, N, K, ldc, 1.25f,
                         betas[bi]);
        /* Padding columns are never written. */
        for (int i = 0; i < M; i++)
          for (int j = N; j < ldc; j++)
            assert_true(h[i * ldc + j] == C0[i * ldc + j]);
        free(h);
        free(C0);
        pt_buf_free(&A);
        pt_buf_free(&B);
        pt_buf_free(&C);
      }
  /* K = 0: C = beta*C, exactly. */
  pt_buf C = pt_buf_uniform(6 * 9, 113, -1, 1);
  BOTH(be->gemm(be, 0, 0, 6, 7, 0, 1.0f, P(C), 9, P(C), 9, 0.5f, P(C), 9));
  pt_check_exact("gemm K=0", &C);
  pt_buf_free(&C);
}

static void test_gemm_batched(void **s) {
  (void)s;
  const int M = 8, N = 12, K = 50, batch = 5;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
      int64_t sA = (int64_t)M * K + 4, sB = (int64_t)K * N + 1, sC = (int64_t)M * N + 7;
      pt_buf A = pt_buf_uniform(sA * batch, 114, -1, 1), B = pt_buf_uniform(sB * batch, 115, -1, 1);
      pt_buf C = pt_buf_uniform(sC * batch, 116, -1, 1);
      float *C0 = malloc(sizeof(float) * C.n);
      memcpy(C0, C.cpu, sizeof(float) * C.n);
      BOTH(be->gemm_batched(be, ta, tb, M, N, K, 0.5f, P(A), lda, sA, P(B), ldb, sB, 1.0f, P(C),
                            ldc, sC, batch));
      float *h = pt_download(C.dev, C.n);
      for (int b = 0; b < batch; b++)
        check_gemm_elems("gemm_batched", h + b * sC, C.cpu + b * sC, A.cpu + b * sA, lda,
                         B.cpu + b * sB, ldb, C0 + b * sC, ta, tb, M, N, K, ldc, 0.5f, 1.0f);
      /* The gaps between batches are never written. */
      for (int b = 0; b < batch; b++)
        for (int64_t j = (int64_t)M * N; j < sC; j++)
          assert_true(h[b * sC + j] == C0[b * sC + j]);
      free(h);
      free(C0);
      pt_buf_free(&A);
      pt_buf_free(&B);
      pt_buf_free(&C);
    }
}

/* ---- memory ---- */

static void test_memory(void **s) {
  (void)s;
  const cb_backend *d = pt_dev();
  size_t base = d->mem_in_use(d);
  size_t bytes = 3 * 1000 * sizeof(float);
  float *a = d->alloc(d, bytes, "test a");
  assert_non_null(a);
  assert_true(d->mem_in_use(d) == base + bytes);
  assert_true(d->mem_peak(d) >= base + bytes);
  float h[3000], back[3000], ref[3000];
  tst_fill_uniform(h, 3000, 120, -1, 1);
  d->upload(d, a, h, bytes);
  d->download(d, back, a, bytes);
  assert_memory_equal(back, h, bytes);
  /* copy with memmove semantics, both overlap directions */
  memcpy(ref, h, bytes);
  memmove(ref + 100, ref, 2000 * sizeof(float));
  d->copy(d, a + 100, a, 2000 * sizeof(float));
  d->download(d, back, a, bytes);
  assert_memory_equal(back, ref, bytes);
  memmove(ref, ref + 50, 2500 * sizeof(float));
  d->copy(d, a, a + 50, 2500 * sizeof(float));
  d->download(d, back, a, bytes);
  assert_memory_equal(back, ref, bytes);
  /* disjoint copy and zero of a sub-range */
  float *b = d->alloc(d, bytes, "test b");
  assert_non_null(b);
  d->copy(d, b, a, bytes);
  d->zero(d, b + 10, 20 * sizeof(float));
  memset(ref + 10, 0, 20 * sizeof(float));
  d->download(d, back, b, bytes);
  assert_memory_equal(back, ref, bytes);
  d->sync(d);
  d->set_threads(d, 2); /* accepted, no effect on the device */
  d->free(d, b);
  d->free(d, a);
  assert_true(d->mem_in_use(d) == base);
  assert_int_equal(d->status(d), 0);
}

#define PARITY_TEST(name) cmocka_unit_test(parity_##name),

int main(void) {
  pt_init_or_skip("cuda ops");
  const struct CMUnitTest tests[] = {
      CB_KERNEL_LIST(PARITY_TEST) cmocka_unit_test(test_gemm),
      cmocka_unit_test(test_gemm_batched),
      cmocka_unit_test(test_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
