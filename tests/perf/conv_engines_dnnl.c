/* oneDNN (C API, 2.x op-descriptor style) for the convolution-engine probe:
 * see conv_engines.h. Every tensor the caller sees is in our layout (NCHW
 * activations, PyTorch weight layouts); in the blocked variant the primitive
 * works on the layout it asked for and the reorders are timed with the pass,
 * so "what a drop-in replacement costs" and "what a blocked pipeline would
 * cost" are both read off one run. */
#include "tests/perf/conv_engines.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double ce_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

const char *ce_dnnl_version(void) {
  static char buf[48];
  const dnnl_version_t *v = dnnl_version();
  snprintf(buf, sizeof buf, "%d.%d.%d (%s)", v->major, v->minor, v->patch,
           v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other runtime");
  return buf;
}

static dnnl_engine_t g_eng;
static dnnl_stream_t g_st;

#define CHK(call)                                                                                 \
  do {                                                                                            \
    dnnl_status_t st_ = (call);                                                                   \
    if (st_ != dnnl_success) {                                                                    \
      fprintf(stderr, "conv_engines: %s: %s (line %d)\n", #call, dnnl_status2str(st_), __LINE__); \
      return 0;                                                                                   \
    }                                                                                             \
  } while (0)

int ce_dnnl_init(void) {
  CHK(dnnl_engine_create(&g_eng, dnnl_cpu, 0));
  CHK(dnnl_stream_create(&g_st, g_eng, dnnl_stream_default_flags));
  return 1;
}

/* Which of the caller's buffers an argument reads or writes. */
enum { B_X, B_W, B_B, B_DY, B_Y, B_DX, B_DW, B_DB };

typedef struct {
  int arg, out, which;
  dnnl_memory_t user, prim; /* the same object when the layouts agree */
  dnnl_primitive_t reorder; /* user -> prim for inputs, prim -> user for outputs */
} ce_arg;

typedef struct {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  ce_arg a[4];
  int na;
  char layouts[160];
} ce_pass;

struct ce_dnnl {
  ce_pass p[CE_PASSES];
  int have[CE_PASSES];
};

/* The user-side descriptors of a shape. */
typedef struct {
  dnnl_memory_desc_t src, wei, bias, dst;
} ce_mds;

static int user_mds(const ce_shape *s, int n, ce_mds *u, int any) {
  dnnl_dims_t src = {n, s->cin, s->h, s->w}, dst = {n, s->cout, s->oh, s->ow};
  dnnl_dims_t wei = {s->cout, s->cin, s->k, s->k}, bias = {s->cout};
  /* oneDNN names the deconvolution's weight dims (O = its output channels,
   * I, H, W) like a convolution's; PyTorch stores them [Cin, Cout, kh, kw],
   * which is oneDNN's iohw. */
  dnnl_format_tag_t wtag = s->transposed ? dnnl_iohw : dnnl_oihw;
  CHK(dnnl_memory_desc_init_by_tag(&u->src, 4, src, dnnl_f32,
                                   any ? dnnl_format_tag_any : dnnl_nchw));
  CHK(dnnl_memory_desc_init_by_tag(&u->dst, 4, dst, dnnl_f32,
                                   any ? dnnl_format_tag_any : dnnl_nchw));
  CHK(dnnl_memory_desc_init_by_tag(&u->wei, 4, wei, dnnl_f32, any ? dnnl_format_tag_any : wtag));
  CHK(dnnl_memory_desc_init_by_tag(&u->bias, 1, bias, dnnl_f32, dnnl_a));
  return 1;
}

/* A short name for a layout: "plain" or its inner blocks, e.g. "16c"/"16i16o". */
static void layout_name(const dnnl_memory_desc_t *md, const char *dims, char *buf, size_t n) {
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  if (b->inner_nblks == 0) {
    snprintf(buf, n, "plain");
    return;
  }
  size_t o = 0;
  for (int i = 0; i < b->inner_nblks && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%lld%c", (long long)b->inner_blks[i],
                          dims[b->inner_idxs[i]]);
}

static int bind(ce_pass *p, int arg, int out, int which, const dnnl_memory_desc_t *user_md,
                dnnl_query_t q, int idx, const char *dims) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, q, idx);
  if (!md) return 0;
  ce_arg *a = &p->a[p->na++];
  a->arg = arg, a->out = out, a->which = which, a->reorder = NULL;
  CHK(dnnl_memory_create(&a->user, user_md, g_eng, DNNL_MEMORY_NONE));
  char nm[40];
  if (dnnl_memory_desc_equal(md, user_md)) {
    a->prim = a->user;
    snprintf(nm, sizeof nm, "plain");
  } else {
    CHK(dnnl_memory_create(&a->prim, md, g_eng, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    CHK(dnnl_reorder_primitive_desc_create(&rpd, out ? md : user_md, g_eng, out ? user_md : md,
                                           g_eng, NULL));
    CHK(dnnl_primitive_create(&a->reorder, rpd));
    dnnl_primitive_desc_destroy(rpd);
    layout_name(md, dims, nm, sizeof nm);
  }
  size_t l = strlen(p->layouts);
  snprintf(p->layouts + l, sizeof p->layouts - l, "%s%s", l ? "," : "", nm);
  return 1;
}

static int make_prim(ce_pass *p) {
  CHK(dnnl_primitive_create(&p->prim, p->pd));
  return 1;
}

ce_dnnl *ce_dnnl_create(const ce_shape *s, int blocked, int with_bwd_data) {
  ce_dnnl *d = calloc(1, sizeof *d);
  ce_mds u, q; /* our layouts; what the primitives are asked for */
  dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->pad, s->pad};
  if (!d || !user_mds(s, s->n, &u, 0) || !user_mds(s, s->n, &q, blocked)) goto fail;
  const dnnl_memory_desc_t *qb = s->bias ? &q.bias : NULL;
  dnnl_convolution_desc_t fd, bd, wd;
  if (s->transposed) {
    if (dnnl_deconvolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_deconvolution_direct,
                                             &q.src, &q.wei, qb, &q.dst, strides, pad,
                                             pad) != dnnl_success ||
        dnnl_deconvolution_backward_data_desc_init(&bd, dnnl_deconvolution_direct, &q.src, &q.wei,
                                                   &q.dst, strides, pad, pad) != dnnl_success ||
        dnnl_deconvolution_backward_weights_desc_init(&wd, dnnl_deconvolution_direct, &q.src,
                                                      &q.wei, qb, &q.dst, strides, pad,
                                                      pad) != dnnl_success)
      goto fail;
  } else {
    if (dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                           &q.src, &q.wei, qb, &q.dst, strides, pad,
                                           pad) != dnnl_success ||
        dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &q.src, &q.wei,
                                                 &q.dst, strides, pad, pad) != dnnl_success ||
        dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &q.src, &q.wei,
                                                    qb, &q.dst, strides, pad, pad) != dnnl_success)
      goto fail;
  }
  ce_pass *f = &d->p[CE_FWD], *b = &d->p[CE_BWD_DATA], *w = &d->p[CE_BWD_WEIGHTS];
  if (dnnl_primitive_desc_create(&f->pd, &fd, NULL, g_eng, NULL) != dnnl_success) goto fail;
  if (!bind(f, DNNL_ARG_SRC, 0, B_X, &u.src, dnnl_query_src_md, 0, "nchw") ||
      !bind(f, DNNL_ARG_WEIGHTS, 0, B_W, &u.wei, dnnl_query_weights_md, 0, "oihw") ||
      (s->bias && !bind(f, DNNL_ARG_BIAS, 0, B_B, &u.bias, dnnl_query_weights_md, 1, "o")) ||
      !bind(f, DNNL_ARG_DST, 1, B_Y, &u.dst, dnnl_query_dst_md, 0, "nchw") || !make_prim(f))
    goto fail;
  d->have[CE_FWD] = 1;
  if (with_bwd_data) {
    if (dnnl_primitive_desc_create(&b->pd, &bd, NULL, g_eng, f->pd) != dnnl_success) goto fail;
    if (!bind(b, DNNL_ARG_DIFF_DST, 0, B_DY, &u.dst, dnnl_query_diff_dst_md, 0, "nchw") ||
        !bind(b, DNNL_ARG_WEIGHTS, 0, B_W, &u.wei, dnnl_query_weights_md, 0, "oihw") ||
        !bind(b, DNNL_ARG_DIFF_SRC, 1, B_DX, &u.src, dnnl_query_diff_src_md, 0, "nchw") ||
        !make_prim(b))
      goto fail;
    d->have[CE_BWD_DATA] = 1;
  }
  if (dnnl_primitive_desc_create(&w->pd, &wd, NULL, g_eng, f->pd) != dnnl_success) goto fail;
  if (!bind(w, DNNL_ARG_SRC, 0, B_X, &u.src, dnnl_query_src_md, 0, "nchw") ||
      !bind(w, DNNL_ARG_DIFF_DST, 0, B_DY, &u.dst, dnnl_query_diff_dst_md, 0, "nchw") ||
      !bind(w, DNNL_ARG_DIFF_WEIGHTS, 1, B_DW, &u.wei, dnnl_query_diff_weights_md, 0, "oihw") ||
      !make_prim(w))
    goto fail;
  /* The bias gradient is the second diff-weights descriptor. */
  if (s->bias && !bind(w, DNNL_ARG_DIFF_BIAS, 1, B_DB, &u.bias, dnnl_query_diff_weights_md, 1, "o"))
    goto fail;
  d->have[CE_BWD_WEIGHTS] = 1;
  return d;
fail:
  fprintf(stderr, "conv_engines: oneDNN has no %s primitive for this shape\n",
          blocked ? "blocked" : "NCHW");
  ce_dnnl_free(d);
  return NULL;
}

void ce_dnnl_free(ce_dnnl *d) {
  if (!d) return;
  for (int i = 0; i < CE_PASSES; i++) {
    ce_pass *p = &d->p[i];
    for (int j = 0; j < p->na; j++) {
      if (p->a[j].reorder) dnnl_primitive_destroy(p->a[j].reorder);
      if (p->a[j].prim && p->a[j].prim != p->a[j].user) dnnl_memory_destroy(p->a[j].prim);
      if (p->a[j].user) dnnl_memory_destroy(p->a[j].user);
    }
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
  }
  free(d);
}

static void *buf_of(const ce_bufs *b, int which) {
  switch (which) {
  case B_X: return (void *)b->x;
  case B_W: return (void *)b->w;
  case B_B: return (void *)b->b;
  case B_DY: return (void *)b->dy;
  case B_Y: return b->y;
  case B_DX: return b->dx;
  case B_DW: return b->dw;
  default: return b->db;
  }
}

static void reorder(ce_arg *a) {
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->out ? a->prim : a->user},
                             {DNNL_ARG_TO, a->out ? a->user : a->prim}};
  dnnl_primitive_execute(a->reorder, g_st, 2, args);
}

double ce_dnnl_run(ce_dnnl *d, int pi, const ce_bufs *b, double *prim_ms) {
  ce_pass *p = &d->p[pi];
  dnnl_exec_arg_t args[4];
  double t0 = ce_now_ms();
  for (int j = 0; j < p->na; j++) {
    ce_arg *a = &p->a[j];
    dnnl_memory_set_data_handle(a->user, buf_of(b, a->which));
    args[j] = (dnnl_exec_arg_t){a->arg, a->prim};
    if (!a->out && a->reorder) reorder(a);
  }
  dnnl_stream_wait(g_st);
  double t1 = ce_now_ms();
  dnnl_primitive_execute(p->prim, g_st, p->na, args);
  dnnl_stream_wait(g_st);
  double t2 = ce_now_ms();
  for (int j = 0; j < p->na; j++)
    if (p->a[j].out && p->a[j].reorder) reorder(&p->a[j]);
  dnnl_stream_wait(g_st);
  *prim_ms = t2 - t1;
  return ce_now_ms() - t0;
}

const char *ce_dnnl_impl(const ce_dnnl *d, int pi) {
  const char *s = "-";
  if (d && d->have[pi]) dnnl_primitive_desc_query(d->p[pi].pd, dnnl_query_impl_info_str, 0, &s);
  return s;
}

const char *ce_dnnl_layouts(const ce_dnnl *d, int pi) {
  return d && d->have[pi] ? d->p[pi].layouts : "-";
}

struct ce_dnnl_ps {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_memory_t src, ddst, dwei, dbias;
  int64_t wn, x_len, y_len;
};

static int ps_setup(ce_dnnl_ps *d, const ce_shape *s) {
  ce_mds u;
  dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->pad, s->pad};
  if (!user_mds(s, 1, &u, 0)) return 0;
  const dnnl_memory_desc_t *ub = s->bias ? &u.bias : NULL;
  dnnl_convolution_desc_t fd, wd;
  if (s->transposed) {
    CHK(dnnl_deconvolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_deconvolution_direct,
                                             &u.src, &u.wei, ub, &u.dst, strides, pad, pad));
    CHK(dnnl_deconvolution_backward_weights_desc_init(&wd, dnnl_deconvolution_direct, &u.src,
                                                      &u.wei, ub, &u.dst, strides, pad, pad));
  } else {
    CHK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                           &u.src, &u.wei, ub, &u.dst, strides, pad, pad));
    CHK(dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &u.src, &u.wei,
                                                    ub, &u.dst, strides, pad, pad));
  }
  dnnl_primitive_desc_t fpd;
  CHK(dnnl_primitive_desc_create(&fpd, &fd, NULL, g_eng, NULL));
  dnnl_status_t st = dnnl_primitive_desc_create(&d->pd, &wd, NULL, g_eng, fpd);
  dnnl_primitive_desc_destroy(fpd);
  CHK(st);
  CHK(dnnl_primitive_create(&d->prim, d->pd));
  CHK(dnnl_memory_create(&d->src, &u.src, g_eng, DNNL_MEMORY_NONE));
  CHK(dnnl_memory_create(&d->ddst, &u.dst, g_eng, DNNL_MEMORY_NONE));
  CHK(dnnl_memory_create(&d->dwei, &u.wei, g_eng, DNNL_MEMORY_NONE));
  if (s->bias) CHK(dnnl_memory_create(&d->dbias, &u.bias, g_eng, DNNL_MEMORY_NONE));
  d->wn = (int64_t)s->cout * s->cin * s->k * s->k;
  d->x_len = (int64_t)s->cin * s->h * s->w;
  d->y_len = (int64_t)s->cout * s->oh * s->ow;
  return 1;
}

ce_dnnl_ps *ce_dnnl_ps_create(const ce_shape *s) {
  ce_dnnl_ps *d = calloc(1, sizeof *d);
  if (d && !ps_setup(d, s)) {
    ce_dnnl_ps_free(d);
    return NULL;
  }
  return d;
}

void ce_dnnl_ps_free(ce_dnnl_ps *d) {
  if (!d) return;
  dnnl_memory_t ms[4] = {d->src, d->ddst, d->dwei, d->dbias};
  for (int i = 0; i < 4; i++)
    if (ms[i]) dnnl_memory_destroy(ms[i]);
  if (d->prim) dnnl_primitive_destroy(d->prim);
  if (d->pd) dnnl_primitive_desc_destroy(d->pd);
  free(d);
}

double ce_dnnl_ps_run(ce_dnnl_ps *d, int n, const float *x, const float *dy, float *rows,
                      int64_t ld) {
  double t0 = ce_now_ms();
  /* One call per image: the primitive's batch is 1. */
  for (int i = 0; i < n; i++) {
    dnnl_memory_set_data_handle(d->src, (void *)(x + i * d->x_len));
    dnnl_memory_set_data_handle(d->ddst, (void *)(dy + i * d->y_len));
    dnnl_memory_set_data_handle(d->dwei, rows + i * ld);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->src},
                               {DNNL_ARG_DIFF_DST, d->ddst},
                               {DNNL_ARG_DIFF_WEIGHTS, d->dwei},
                               {DNNL_ARG_DIFF_BIAS, d->dbias}};
    if (d->dbias) dnnl_memory_set_data_handle(d->dbias, rows + i * ld + d->wn);
    dnnl_primitive_execute(d->prim, g_st, d->dbias ? 4 : 3, args);
  }
  dnnl_stream_wait(g_st);
  return ce_now_ms() - t0;
}
