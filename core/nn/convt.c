/* ConvTranspose2d(kernel 2, stride 2) by GEMM + col2im. Opacus has no
 * per-sample rule for this layer; ours follows from writing it as a conv on
 * the output side (see reference/algorithms.md section 5):
 *
 * For image i with input X_i [Cin x T] (T = H*W input positions) and
 * U_i = im2col(dy_i) [Cout*4 x T] taken with the layer's own kernel and
 * stride on the output gradient:
 *   forward   y_i = col2im(W^T X_i) (+ b)     W is [Cin x Cout*4] (PyTorch)
 *   dx        dx_i += W U_i
 *   dW        g_i = X_i U_i^T
 *   ghost     |g_i|^2 = <X_i^T X_i, U_i^T U_i>
 * With k = s = 2 the windows do not overlap, so im2col/col2im are pure
 * permutations. */
#include "core/nn/layers.h"

static cb_geom geom(const cb_node *nd, const cb_node *in) {
  cb_geom g = {nd->C, nd->H, nd->W, 2, 2, 2, 0, in->H, in->W};
  return g;
}

/* U_i = im2col(dy_i) into work. */
static const float *out_columns(cb_model *m, const cb_node *nd, int i) {
  const cb_node *in = &m->nodes[nd->in[0]];
  const float *dy = nd->dout + (int64_t)i * cb_node_size(nd);
  cb_launch_im2col(m->be, (int64_t)nd->C * 4 * in->H, (cb_k_im2col){dy, m->work, geom(nd, in)});
  return m->work;
}

void cb_convt_forward(cb_model *m, cb_node *nd, int n) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int T = in->H * in->W, P = nd->C * 4;
  const float *w = m->params + m->tensors[nd->w_tensor].offset;
  for (int i = 0; i < n; i++) {
    const float *x = in->out + (int64_t)i * cb_node_size(in);
    float *y = nd->out + (int64_t)i * cb_node_size(nd);
    m->be->gemm(m->be, 1, 0, P, T, in->C, 1.0f, w, P, x, T, 0.0f, m->work, T);
    cb_launch_col2im(m->be, (int64_t)nd->C * nd->H, (cb_k_col2im){m->work, y, geom(nd, in), 0});
  }
  cb_launch_add_bias(
      m->be, (int64_t)n * nd->C,
      (cb_k_add_bias){nd->out, m->params + m->tensors[nd->b_tensor].offset, nd->C, nd->H * nd->W});
}

void cb_convt_backward(cb_model *m, cb_node *nd, int n) {
  if (!nd->needs_dx) return;
  cb_node *in = &m->nodes[nd->in[0]];
  int T = in->H * in->W, P = nd->C * 4;
  const float *w = m->params + m->tensors[nd->w_tensor].offset;
  for (int i = 0; i < n; i++) {
    const float *u = out_columns(m, nd, i);
    float *dx = in->dout + (int64_t)i * cb_node_size(in);
    m->be->gemm(m->be, 0, 0, in->C, T, P, 1.0f, w, P, u, T, 1.0f, dx, T);
  }
}

void cb_convt_grad_weighted(cb_model *m, cb_node *nd, int n, const float *coef_w,
                            const float *coef_b, float *dst, float beta) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int T = in->H * in->W, P = nd->C * 4;
  int64_t wn = (int64_t)in->C * P;
  if (n == 0) {
    cb_launch_scale(m->be, nd->p_numel, (cb_k_scale){dst, beta});
    return;
  }
  for (int i = 0; i < n; i++) {
    const float *u = out_columns(m, nd, i);
    const float *x = in->out + (int64_t)i * cb_node_size(in);
    m->be->gemm(m->be, 0, 1, in->C, P, T, coef_w[i], x, T, u, T, i == 0 ? beta : 1.0f, dst, P);
  }
  cb_upload_coef(m, n, coef_b);
  cb_launch_bias_grad(m->be, (int64_t)n * nd->C,
                      (cb_k_bias_grad){nd->dout, m->tmp_rows, nd->C, nd->H * nd->W, nd->C});
  cb_weighted_rows(m, n, nd->C, m->tmp_rows, nd->C, dst + wn, beta);
}

void cb_convt_grad_per_sample(cb_model *m, cb_node *nd, int n, float *out, int64_t ld) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int T = in->H * in->W, P = nd->C * 4;
  int64_t wn = (int64_t)in->C * P;
  for (int i = 0; i < n; i++) {
    const float *u = out_columns(m, nd, i);
    const float *x = in->out + (int64_t)i * cb_node_size(in);
    m->be->gemm(m->be, 0, 1, in->C, P, T, 1.0f, x, T, u, T, 0.0f, out + i * ld, P);
  }
  cb_launch_bias_grad(m->be, (int64_t)n * nd->C,
                      (cb_k_bias_grad){nd->dout, out + wn, nd->C, nd->H * nd->W, ld});
}

void cb_convt_ghost(cb_model *m, cb_node *nd, int n, float *scratch, double *w, double *b) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int T = in->H * in->W, P = nd->C * 4;
  float *gx = scratch, *gu = scratch + (int64_t)T * T;
  for (int i = 0; i < n; i++) {
    const float *u = out_columns(m, nd, i);
    const float *x = in->out + (int64_t)i * cb_node_size(in);
    m->be->gemm(m->be, 1, 0, T, T, in->C, 1.0f, x, T, x, T, 0.0f, gx, T);
    m->be->gemm(m->be, 1, 0, T, T, P, 1.0f, u, T, u, T, 0.0f, gu, T);
    w[i] = cb_dot(m, gx, gu, (int64_t)T * T);
  }
  cb_launch_bias_grad(m->be, (int64_t)n * nd->C,
                      (cb_k_bias_grad){nd->dout, m->tmp_rows, nd->C, nd->H * nd->W, nd->C});
  cb_rows_sqnorm(m, m->tmp_rows, nd->C, nd->C, n, b);
}
