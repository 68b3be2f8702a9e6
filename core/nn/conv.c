/* Conv2d (k x k, stride 1, same padding) by im2col + GEMM, one image at a
 * time so the column buffer stays K*T floats.
 *
 * For image i with columns A_i = im2col(x_i) [K x T] and output gradient
 * B_i = dy_i [Cout x T]:
 *   forward   y_i = W A_i (+ b)
 *   dx        dx_i += col2im(W^T B_i)
 *   dW        g_i = B_i A_i^T        (the per-sample weight gradient)
 *   ghost     |g_i|^2 = <A_i^T A_i, B_i^T B_i>  (T x T Gram matrices)
 * Weight layout [Cout, Cin, k, k] = [Cout x K] row-major, as PyTorch. */
#include "core/nn/layers.h"

static cb_geom geom(const cb_model *m, const cb_node *nd) {
  const cb_node *in = &m->nodes[nd->in[0]];
  cb_geom g = {in->C, in->H, in->W, nd->k, nd->k, 1, nd->k / 2, nd->H, nd->W};
  return g;
}

static int is_pointwise(const cb_node *nd) {
  return nd->k == 1;
}

/* Columns of image i: the input itself for 1x1 convs, else im2col into work. */
static const float *columns(cb_model *m, const cb_node *nd, int i) {
  const cb_node *in = &m->nodes[nd->in[0]];
  const float *x = in->out + (int64_t)i * cb_node_size(in);
  if (is_pointwise(nd)) return x;
  cb_geom g = geom(m, nd);
  int64_t K = (int64_t)g.C * g.kh * g.kw;
  cb_launch_im2col(m->be, K * g.Ho, (cb_k_im2col){x, m->work, g});
  return m->work;
}

void cb_conv_forward(cb_model *m, cb_node *nd, int n) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int K = in->C * nd->k * nd->k, T = nd->H * nd->W;
  const float *w = m->params + m->tensors[nd->w_tensor].offset;
  for (int i = 0; i < n; i++) {
    const float *col = columns(m, nd, i);
    float *y = nd->out + (int64_t)i * cb_node_size(nd);
    m->be->gemm(m->be, 0, 0, nd->C, T, K, 1.0f, w, K, col, T, 0.0f, y, T);
  }
  if (nd->b_tensor >= 0)
    cb_launch_add_bias(
        m->be, (int64_t)n * nd->C,
        (cb_k_add_bias){nd->out, m->params + m->tensors[nd->b_tensor].offset, nd->C, T});
}

void cb_conv_backward(cb_model *m, cb_node *nd, int n) {
  if (!nd->needs_dx) return;
  cb_node *in = &m->nodes[nd->in[0]];
  int K = in->C * nd->k * nd->k, T = nd->H * nd->W;
  const float *w = m->params + m->tensors[nd->w_tensor].offset;
  for (int i = 0; i < n; i++) {
    const float *dy = nd->dout + (int64_t)i * cb_node_size(nd);
    float *dx = in->dout + (int64_t)i * cb_node_size(in);
    if (is_pointwise(nd)) {
      m->be->gemm(m->be, 1, 0, K, T, nd->C, 1.0f, w, K, dy, T, 1.0f, dx, T);
      continue;
    }
    m->be->gemm(m->be, 1, 0, K, T, nd->C, 1.0f, w, K, dy, T, 0.0f, m->work, T);
    cb_launch_col2im(m->be, (int64_t)in->C * in->H, (cb_k_col2im){m->work, dx, geom(m, nd), 1});
  }
}

static void bias_weighted(cb_model *m, cb_node *nd, int n, float *dst_b, float beta) {
  int T = nd->H * nd->W;
  cb_launch_bias_grad(m->be, (int64_t)n * nd->C,
                      (cb_k_bias_grad){nd->dout, m->tmp_rows, nd->C, T, nd->C});
  cb_weighted_rows(m, n, nd->C, m->tmp_rows, nd->C, dst_b, beta);
}

void cb_conv_grad_weighted(cb_model *m, cb_node *nd, int n, const float *coef_w,
                           const float *coef_b, float *dst, float beta) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int K = in->C * nd->k * nd->k, T = nd->H * nd->W;
  int64_t wn = (int64_t)nd->C * K;
  if (n == 0) {
    cb_launch_scale(m->be, nd->p_numel, (cb_k_scale){dst, beta});
    return;
  }
  for (int i = 0; i < n; i++) {
    const float *col = columns(m, nd, i);
    const float *dy = nd->dout + (int64_t)i * cb_node_size(nd);
    m->be->gemm(m->be, 0, 1, nd->C, K, T, coef_w[i], dy, T, col, T, i == 0 ? beta : 1.0f, dst, K);
  }
  if (nd->b_tensor >= 0) {
    cb_upload_coef(m, n, coef_b);
    bias_weighted(m, nd, n, dst + wn, beta);
  }
}

void cb_conv_grad_per_sample(cb_model *m, cb_node *nd, int n, float *out, int64_t ld) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int K = in->C * nd->k * nd->k, T = nd->H * nd->W;
  int64_t wn = (int64_t)nd->C * K;
  for (int i = 0; i < n; i++) {
    const float *col = columns(m, nd, i);
    const float *dy = nd->dout + (int64_t)i * cb_node_size(nd);
    m->be->gemm(m->be, 0, 1, nd->C, K, T, 1.0f, dy, T, col, T, 0.0f, out + i * ld, K);
  }
  if (nd->b_tensor >= 0)
    cb_launch_bias_grad(m->be, (int64_t)n * nd->C,
                        (cb_k_bias_grad){nd->dout, out + wn, nd->C, T, ld});
}

void cb_conv_ghost(cb_model *m, cb_node *nd, int n, float *scratch, double *w, double *b) {
  const cb_node *in = &m->nodes[nd->in[0]];
  int K = in->C * nd->k * nd->k, T = nd->H * nd->W;
  float *ga = scratch, *gb = scratch + (int64_t)T * T;
  for (int i = 0; i < n; i++) {
    const float *col = columns(m, nd, i);
    const float *dy = nd->dout + (int64_t)i * cb_node_size(nd);
    m->be->gemm(m->be, 1, 0, T, T, K, 1.0f, col, T, col, T, 0.0f, ga, T);
    m->be->gemm(m->be, 1, 0, T, T, nd->C, 1.0f, dy, T, dy, T, 0.0f, gb, T);
    /* <Ga, Gb>_F: the squared Frobenius norm of g_i. */
    w[i] = cb_dot(m, ga, gb, (int64_t)T * T);
  }
  if (nd->b_tensor >= 0) {
    cb_launch_bias_grad(m->be, (int64_t)n * nd->C,
                        (cb_k_bias_grad){nd->dout, m->tmp_rows, nd->C, T, nd->C});
    cb_rows_sqnorm(m, m->tmp_rows, nd->C, nd->C, n, b);
  } else {
    for (int i = 0; i < n; i++)
      b[i] = 0.0;
  }
}
