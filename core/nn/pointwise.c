/* Parameter-free layers: ReLU, MaxPool2d(2), bilinear Upsample x2, Concat. */
#include "core/nn/layers.h"

void cb_relu_forward(cb_model *m, cb_node *nd, int n) {
  cb_launch_relu_fwd(m->be, (int64_t)n * cb_node_size(nd),
                     (cb_k_relu_fwd){m->nodes[nd->in[0]].out, nd->out});
}

void cb_relu_backward(cb_model *m, cb_node *nd, int n) {
  if (!nd->needs_dx) return;
  cb_launch_relu_bwd(m->be, (int64_t)n * cb_node_size(nd),
                     (cb_k_relu_bwd){nd->out, nd->dout, m->nodes[nd->in[0]].dout});
}

void cb_maxpool_forward(cb_model *m, cb_node *nd, int n) {
  const cb_node *in = &m->nodes[nd->in[0]];
  cb_launch_maxpool_fwd(m->be, (int64_t)n * nd->C * nd->H,
                        (cb_k_maxpool_fwd){in->out, nd->out, nd->idx, in->H, in->W});
}

void cb_maxpool_backward(cb_model *m, cb_node *nd, int n) {
  if (!nd->needs_dx) return;
  cb_node *in = &m->nodes[nd->in[0]];
  cb_launch_maxpool_bwd(m->be, (int64_t)n * in->C * in->H,
                        (cb_k_maxpool_bwd){nd->dout, nd->idx, in->dout, in->H, in->W});
}

void cb_upsample_forward(cb_model *m, cb_node *nd, int n) {
  const cb_node *in = &m->nodes[nd->in[0]];
  cb_launch_upsample_fwd(m->be, (int64_t)n * nd->C * nd->H,
                         (cb_k_upsample_fwd){in->out, nd->out, in->H, in->W});
}

void cb_upsample_backward(cb_model *m, cb_node *nd, int n) {
  if (!nd->needs_dx) return;
  cb_node *in = &m->nodes[nd->in[0]];
  cb_launch_upsample_bwd(m->be, (int64_t)n * in->C * in->H,
                         (cb_k_upsample_bwd){nd->dout, in->dout, in->H, in->W});
}

void cb_concat_forward(cb_model *m, cb_node *nd, int n) {
  int off = 0, T = nd->H * nd->W;
  for (int k = 0; k < nd->n_in; k++) {
    const cb_node *in = &m->nodes[nd->in[k]];
    cb_launch_concat_fwd(m->be, (int64_t)n * in->C,
                         (cb_k_concat_fwd){in->out, nd->out, in->C, T, nd->C, off});
    off += in->C;
  }
}

void cb_concat_backward(cb_model *m, cb_node *nd, int n) {
  int off = 0, T = nd->H * nd->W;
  for (int k = 0; k < nd->n_in; k++) {
    cb_node *in = &m->nodes[nd->in[k]];
    if (in->dout) /* the input node has none unless input_grad */
      cb_launch_concat_bwd(m->be, (int64_t)n * in->C,
                           (cb_k_concat_bwd){nd->dout, in->dout, in->C, T, nd->C, off});
    off += in->C;
  }
}
