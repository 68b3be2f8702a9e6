/* GroupNorm (eps 1e-5, affine). Statistics per (sample, group); the
 * per-sample affine gradients are 2C floats, so they are always
 * materialised (Opacus and fastDP do the same). */
#include "core/nn/layers.h"

#define GN_EPS 1e-5f

typedef struct {
  float *mean, *rstd, *s1, *s2;
} gn_bufs;

static gn_bufs bufs(const cb_model *m, const cb_node *nd) {
  int64_t ng = (int64_t)m->max_batch * nd->groups;
  gn_bufs b = {nd->aux0, nd->aux0 + ng, nd->aux0 + 2 * ng, nd->aux0 + 3 * ng};
  return b;
}

void cb_gn_forward(cb_model *m, cb_node *nd, int n) {
  const cb_node *in = &m->nodes[nd->in[0]];
  gn_bufs b = bufs(m, nd);
  int T = nd->H * nd->W;
  const float *gamma = m->params + m->tensors[nd->w_tensor].offset;
  const float *beta = m->params + m->tensors[nd->b_tensor].offset;
  cb_launch_gn_stats(m->be, (int64_t)n * nd->groups,
                     (cb_k_gn_stats){in->out, b.mean, b.rstd, nd->C, T, nd->groups, GN_EPS});
  cb_launch_gn_fwd(
      m->be, (int64_t)n * nd->C,
      (cb_k_gn_fwd){in->out, b.mean, b.rstd, gamma, beta, nd->out, nd->C, T, nd->groups});
}

void cb_gn_backward(cb_model *m, cb_node *nd, int n) {
  if (!nd->needs_dx) return;
  cb_node *in = &m->nodes[nd->in[0]];
  gn_bufs b = bufs(m, nd);
  int T = nd->H * nd->W;
  const float *gamma = m->params + m->tensors[nd->w_tensor].offset;
  cb_launch_gn_bwd_reduce(m->be, (int64_t)n * nd->groups,
                          (cb_k_gn_bwd_reduce){in->out, nd->dout, b.mean, b.rstd, gamma, b.s1, b.s2,
                                               nd->C, T, nd->groups});
  cb_launch_gn_bwd_dx(m->be, (int64_t)n * nd->C,
                      (cb_k_gn_bwd_dx){in->out, nd->dout, b.mean, b.rstd, gamma, b.s1, b.s2,
                                       in->dout, nd->C, T, nd->groups});
}

void cb_gn_grad_per_sample(cb_model *m, cb_node *nd, int n, float *out, int64_t ld) {
  const cb_node *in = &m->nodes[nd->in[0]];
  gn_bufs b = bufs(m, nd);
  cb_launch_gn_param_grad(m->be, (int64_t)n * nd->C,
                          (cb_k_gn_param_grad){in->out, nd->dout, b.mean, b.rstd, out, nd->C,
                                               nd->H * nd->W, nd->groups, ld});
}

void cb_gn_grad_weighted(cb_model *m, cb_node *nd, int n, const float *coef_w, const float *coef_b,
                         float *dst, float beta) {
  if (n == 0) {
    cb_launch_scale(m->be, nd->p_numel, (cb_k_scale){dst, beta});
    return;
  }
  cb_gn_grad_per_sample(m, nd, n, m->tmp_rows, 2 * nd->C);
  cb_upload_coef(m, n, coef_w);
  cb_weighted_rows(m, n, nd->C, m->tmp_rows, 2 * nd->C, dst, beta);
  cb_upload_coef(m, n, coef_b);
  cb_weighted_rows(m, n, nd->C, m->tmp_rows + nd->C, 2 * nd->C, dst + nd->C, beta);
}
