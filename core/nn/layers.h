/* Per-layer forward/backward and DP hooks (internal to core/nn). Backward
 * functions accumulate (+=) into their inputs' gradient buffers, which the
 * model zeroes before each backward: a tensor may feed several nodes. */
#ifndef CB_NN_LAYERS_H
#define CB_NN_LAYERS_H

#include "core/nn/model.h"

static inline int64_t cb_node_size(const cb_node *nd) {
  return (int64_t)nd->C * nd->H * nd->W;
}

void cb_conv_forward(cb_model *m, cb_node *nd, int n);
void cb_conv_backward(cb_model *m, cb_node *nd, int n);
void cb_conv_grad_weighted(cb_model *m, cb_node *nd, int n, const float *coef_w,
                           const float *coef_b, float *dst, float beta);
void cb_conv_grad_per_sample(cb_model *m, cb_node *nd, int n, float *out, int64_t ld);
void cb_conv_ghost(cb_model *m, cb_node *nd, int n, float *scratch, double *w, double *b);

void cb_convt_forward(cb_model *m, cb_node *nd, int n);
void cb_convt_backward(cb_model *m, cb_node *nd, int n);
void cb_convt_grad_weighted(cb_model *m, cb_node *nd, int n, const float *coef_w,
                            const float *coef_b, float *dst, float beta);
void cb_convt_grad_per_sample(cb_model *m, cb_node *nd, int n, float *out, int64_t ld);
void cb_convt_ghost(cb_model *m, cb_node *nd, int n, float *scratch, double *w, double *b);

void cb_gn_forward(cb_model *m, cb_node *nd, int n);
void cb_gn_backward(cb_model *m, cb_node *nd, int n);
void cb_gn_grad_weighted(cb_model *m, cb_node *nd, int n, const float *coef_w, const float *coef_b,
                         float *dst, float beta);
void cb_gn_grad_per_sample(cb_model *m, cb_node *nd, int n, float *out, int64_t ld);

void cb_relu_forward(cb_model *m, cb_node *nd, int n);
void cb_relu_backward(cb_model *m, cb_node *nd, int n);
void cb_maxpool_forward(cb_model *m, cb_node *nd, int n);
void cb_maxpool_backward(cb_model *m, cb_node *nd, int n);
void cb_upsample_forward(cb_model *m, cb_node *nd, int n);
void cb_upsample_backward(cb_model *m, cb_node *nd, int n);
void cb_concat_forward(cb_model *m, cb_node *nd, int n);
void cb_concat_backward(cb_model *m, cb_node *nd, int n);

/* Scratch floats a node needs from m->work. */
int64_t cb_node_work_floats(const cb_model *m, const cb_node *nd, int max_batch);

/* dst = beta*dst + sum_i coef_i * rows_i for rows [n x len] with leading
 * dimension ld (device); coef taken from m->coef_dev (uploaded by the
 * caller with cb_upload_coef). */
void cb_weighted_rows(cb_model *m, int n, int64_t len, const float *rows, int64_t ld, float *dst,
                      float beta);
/* sum_j x[j]*y[j] over len elements (device), deterministic. */
double cb_dot(cb_model *m, const float *x, const float *y, int64_t len);
/* Uploads host_coef[0..n) to m->coef_dev. */
void cb_upload_coef(cb_model *m, int n, const float *host_coef);

#endif
