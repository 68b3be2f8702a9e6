/* The oneDNN side of the convolution-engine probe (conv_engines.c): one
 * convolution or 2x2 stride-2 transposed convolution over a whole batch, in
 * plain NCHW or in the blocked layout oneDNN picks itself, with the reorders
 * to and from our NCHW buffers timed apart from the primitive. */
#ifndef CB_PERF_CONV_ENGINES_H
#define CB_PERF_CONV_ENGINES_H

#include <stdint.h>

typedef struct {
  int transposed;     /* ConvTranspose2d(k 2, stride 2), PyTorch weight [Cin, Cout, 2, 2] */
  int n, cin, cout;   /* batch, input and output channels */
  int h, w, oh, ow;   /* input and output spatial size */
  int k, stride, pad; /* kernel, stride, zero padding on every side */
  int bias;
} ce_shape;

enum { CE_FWD = 0, CE_BWD_DATA = 1, CE_BWD_WEIGHTS = 2, CE_PASSES = 3 };

/* Our NCHW buffers a pass reads and writes: x [n,cin,h,w], y and dy
 * [n,cout,oh,ow], dx like x, w in PyTorch's layout, b [cout], dw / db like w
 * / b. */
typedef struct {
  const float *x, *w, *b, *dy;
  float *y, *dx, *dw, *db;
} ce_bufs;

typedef struct ce_dnnl ce_dnnl;

/* One engine and stream for the process (OpenMP runtime: it uses the same
 * libgomp threads as our kernels and OpenBLAS). */
int ce_dnnl_init(void);
/* Primitives for the three passes of shape s (backward-data only when
 * with_bwd_data). blocked = 0: every tensor in our own plain layout, so no
 * reorder; 1: format "any", oneDNN's choice, with reorders to and from ours.
 * NULL (message on stderr) when oneDNN has no implementation. */
ce_dnnl *ce_dnnl_create(const ce_shape *s, int blocked, int with_bwd_data);
void ce_dnnl_free(ce_dnnl *d);
/* Runs pass p on the buffers; returns the milliseconds of the whole pass
 * (reorders in, primitive, reorders out) and the primitive's alone in
 * *prim_ms. */
double ce_dnnl_run(ce_dnnl *d, int p, const ce_bufs *b, double *prim_ms);
/* "jit:avx512_core", "gemm:jit", ... and the layouts chosen, for the log. */
const char *ce_dnnl_impl(const ce_dnnl *d, int p);
const char *ce_dnnl_layouts(const ce_dnnl *d, int p);

/* Per-sample weight gradients through oneDNN: a batch-1 backward-weights
 * primitive run once per image in plain layout, writing image i's weight
 * then bias gradient to rows + i*ld (our per-sample row layout). */
typedef struct ce_dnnl_ps ce_dnnl_ps;
ce_dnnl_ps *ce_dnnl_ps_create(const ce_shape *s);
void ce_dnnl_ps_free(ce_dnnl_ps *d);
double ce_dnnl_ps_run(ce_dnnl_ps *d, int n, const float *x, const float *dy, float *rows,
                      int64_t ld);

double ce_now_ms(void);
/* "2.6.3 (OpenMP)": the library loaded at run time. */
const char *ce_dnnl_version(void);

#endif
