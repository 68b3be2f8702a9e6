/* Model lifetime, buffers, and the forward/backward drivers. */
#include "core/base/error.h"
#include "core/kernels/philox.h"
#include "core/nn/layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cb_model *cb_model_create(const cb_backend *be, const cb_model_cfg *cfg_in, int H, int W) {
  cb_model_cfg cfg = *cfg_in;
  cb_model_cfg_resolve(&cfg);
  if (cb_model_cfg_validate(&cfg)) return NULL;
  int f = 1 << cfg.depth;
  if (H < f || W < f || H % f || W % f) {
    cb_error("image size %dx%d must be a positive multiple of %d for depth %d (each level "
             "halves it); choose e.g. %dx%d",
             H, W, f, cfg.depth, (H + f - 1) / f * f, (W + f - 1) / f * f);
    return NULL;
  }
  cb_model *m = cb_calloc(1, sizeof *m, "model");
  if (!m) return NULL;
  m->be = be;
  m->cfg = cfg;
  m->H = H;
  m->W = W;
  m->loss = (cb_loss_cfg){1.0f, 1.0f, 1.0f, 0, 0};
  int rc = cfg.arch == CB_ARCH_UNET ? cb_build_unet(m) : cb_build_nested_unet(m);
  if (rc) {
    cb_model_free(m);
    return NULL;
  }
  return m;
}

cb_model *cb_model_create_graph(const cb_backend *be, int in_channels, int H, int W, int classes) {
  if (in_channels < 1 || H < 1 || W < 1 || classes < 1) {
    cb_error("custom graph: input %dx%dx%d with %d classes must be positive", in_channels, H, W,
             classes);
    return NULL;
  }
  cb_model *m = cb_calloc(1, sizeof *m, "model");
  if (!m) return NULL;
  cb_model_cfg_default(&m->cfg, CB_ARCH_UNET);
  m->cfg.in_channels = in_channels;
  m->cfg.classes = classes;
  m->be = be;
  m->H = H;
  m->W = W;
  m->loss = (cb_loss_cfg){1.0f, 1.0f, 1.0f, 0, 0};
  m->input_grad = 1;
  m->keep_all = 1;
  cb_add_input(m, in_channels, H, W);
  return m;
}

int64_t cb_node_work_floats(const cb_model *m, const cb_node *nd, int max_batch) {
  (void)max_batch;
  const cb_node *in = &m->nodes[nd->in[0]];
  if (nd->kind == CB_NODE_CONV) return (int64_t)in->C * nd->k * nd->k * nd->H * nd->W;
  if (nd->kind == CB_NODE_CONVT) return (int64_t)nd->C * 4 * in->H * in->W;
  return 0;
}

typedef struct {
  char *base;
  size_t off, cap;
} bump;

static void *take(bump *b, size_t bytes) {
  size_t o = (b->off + 63) & ~(size_t)63;
  b->off = o + bytes;
  return b->base ? b->base + o : NULL;
}

/* The last node that reads node i's output (n_nodes when none: the output,
 * whose gradient comes from the loss), and how many nodes read it. */
static int last_consumer(const cb_model *m, int i, int *count) {
  int last = m->n_nodes, c = 0;
  for (int j = i + 1; j < m->n_nodes; j++)
    for (int k = 0; k < m->nodes[j].n_in; k++)
      if (m->nodes[j].in[k] == i) {
        last = j;
        c++;
      }
  if (count) *count = c;
  return last;
}

/* Whether node i's gradient may share memory: a parameter-free node read by
 * a later node. Its gradient is written (accumulated) from the backward of
 * its last consumer on and read for the last time by its own backward; the
 * DP engine reads only the gradients of parameter nodes, after the pass. */
static int dout_shareable(const cb_model *m, int i) {
  const cb_node *nd = &m->nodes[i];
  if (m->keep_all || cb_node_is_param(nd) || nd->kind == CB_NODE_INPUT) return 0;
  return last_consumer(m, i, NULL) < m->n_nodes;
}

/* Whether node i is a ReLU that can run in place on its GroupNorm's output:
 * nothing else reads that output (GroupNorm's backward and per-sample
 * gradients read its input, ReLU's backward its own output). */
static int relu_in_place(const cb_model *m, int i) {
  const cb_node *nd = &m->nodes[i];
  if (m->keep_all || nd->kind != CB_NODE_RELU || m->nodes[nd->in[0]].kind != CB_NODE_GN) return 0;
  int readers = 0;
  last_consumer(m, nd->in[0], &readers);
  return readers == 1;
}

/* Whether node i's output is needed only during the forward pass: it is
 * not the output nor a ReLU (whose backward reads its own output) and every
 * reader is a concat, upsample or max-pool, whose backward reads only
 * gradients (and the pool's argmax). An upsampled or up-convolved tensor
 * that is only copied into a concat is the case. */
static int out_transient(const cb_model *m, int i) {
  const cb_node *nd = &m->nodes[i];
  if (m->keep_all || i == 0 || i == m->n_nodes - 1 || nd->kind == CB_NODE_RELU) return 0;
  for (int j = i + 1; j < m->n_nodes; j++)
    for (int k = 0; k < m->nodes[j].n_in; k++) {
      cb_node_kind c = m->nodes[j].kind;
      if (m->nodes[j].in[k] == i && c != CB_NODE_CONCAT && c != CB_NODE_UPSAMPLE &&
          c != CB_NODE_MAXPOOL)
        return 0;
    }
  return 1;
}

/* Shared buffers: greedy interval colouring of live ranges on one timeline,
 * forward step i at time i and backward step i at time 2n - i, each slot
 * as large as its largest member. A transient output lives from its node's
 * forward to its last reader's; a shared gradient from its last consumer's
 * backward (which zeroes it first) to its own node's. Outputs and gradients
 * can thus share slots too: the forward is over before the backward. */
static void layout_shared(cb_model *m, bump *b) {
  int n = m->n_nodes, n_items = 0, n_slots = 0;
  size_t cap = 2 * (size_t)(n > 0 ? n : 1);
  struct item {
    int lo, hi, slot;
    size_t size;
    float **ptr;
  } *it = calloc(cap, sizeof *it);
  size_t *size = calloc(cap, sizeof *size);
  if (!it || !size) abort();
  for (int i = 0; i < n; i++) {
    cb_node *nd = &m->nodes[i];
    size_t sz = (size_t)m->max_batch * cb_node_size(nd) * sizeof(float);
    int lc = last_consumer(m, i, NULL);
    if (out_transient(m, i)) it[n_items++] = (struct item){i, lc, -1, sz, &nd->out};
    if (dout_shareable(m, i)) {
      it[n_items++] = (struct item){2 * n - lc, 2 * n - i, -1, sz, &nd->dout};
      nd->zero_at = lc;
    }
  }
  for (int a = 0; a < n_items; a++) {
    int s = 0;
    for (; s < n_slots; s++) {
      int clash = 0;
      for (int c = 0; c < a && !clash; c++)
        clash = it[c].slot == s && !(it[c].hi < it[a].lo || it[a].hi < it[c].lo);
      if (!clash) break;
    }
    if (s == n_slots) n_slots++;
    it[a].slot = s;
    if (it[a].size > size[s]) size[s] = it[a].size;
  }
  for (int s = 0; s < n_slots; s++) {
    float *base = take(b, size[s]);
    for (int a = 0; a < n_items; a++)
      if (it[a].slot == s) *it[a].ptr = base;
  }
  free(it);
  free(size);
}

/* Lays out every per-batch buffer; with b->base == NULL it only measures. */
static void layout(cb_model *m, bump *b) {
  int N = m->max_batch, K = m->cfg.classes;
  int64_t T = (int64_t)m->H * m->W;
  int64_t max_rows = 1;
  for (int i = 0; i < m->n_nodes; i++) {
    cb_node *nd = &m->nodes[i];
    size_t sz = (size_t)N * cb_node_size(nd) * sizeof(float);
    nd->out = relu_in_place(m, i)   ? m->nodes[nd->in[0]].out
              : out_transient(m, i) ? NULL
                                    : take(b, sz);
    nd->zero_at = -1;
    nd->dout = nd->kind == CB_NODE_INPUT && !m->input_grad ? NULL
               : dout_shareable(m, i)                      ? NULL
                                                           : take(b, sz);
    if (nd->kind == CB_NODE_GN) {
      nd->aux0 = take(b, (size_t)4 * N * nd->groups * sizeof(float));
      nd->aux1 = NULL;
    }
    if (nd->kind == CB_NODE_MAXPOOL) nd->idx = take(b, (size_t)N * cb_node_size(nd));
    if (nd->kind == CB_NODE_GN && 2 * nd->C > max_rows) max_rows = 2 * nd->C;
    if ((nd->kind == CB_NODE_CONV || nd->kind == CB_NODE_CONVT) && nd->C > max_rows)
      max_rows = nd->C;
  }
  layout_shared(m, b);
  m->input = m->nodes[0].out;
  m->labels = take(b, (size_t)N * T);
  m->probs = take(b, (size_t)N * K * T * sizeof(float));
  m->nll = take(b, (size_t)N * T * sizeof(float));
  m->loss_stats = take(b, (size_t)N * K * 3 * sizeof(float));
  m->loss_ce = take(b, (size_t)N * sizeof(float));
  int64_t work = 1;
  for (int i = 0; i < m->n_nodes; i++) {
    int64_t w = cb_node_work_floats(m, &m->nodes[i], N);
    if (w > work) work = w;
  }
  m->work_floats = (size_t)work;
  m->work = take(b, (size_t)work * sizeof(float));
  m->tmp_rows = take(b, (size_t)N * max_rows * sizeof(float));
  m->coef_dev = take(b, (size_t)N * sizeof(float));
  m->part_len = (size_t)N * 64;
  m->part = take(b, m->part_len * sizeof(double));
}

int cb_model_alloc(cb_model *m, int max_batch) {
  if (max_batch < 1) return cb_error("batch size must be at least 1");
  m->max_batch = max_batch;
  m->bytes_params = (size_t)m->n_params * sizeof(float);
  m->params = m->be->alloc(m->be, m->bytes_params, "parameters");
  if (!m->params) return -1;
  m->grads = m->be->alloc(m->be, m->bytes_params, "gradients");
  if (!m->grads) return -1;
  m->be->zero(m->be, m->grads, m->bytes_params);
  bump b = {0};
  layout(m, &b);
  m->bytes_activations = b.off;
  b.base = m->be->alloc(m->be, b.off, "activations");
  if (!b.base) {
    char why[CB_ERRMSG_MAX / 2];
    snprintf(why, sizeof why, "%s", cb_last_error());
    return cb_error("%s (activations for a batch of %d images of %dx%d; lower "
                    "max_physical_batch)",
                    why, max_batch, m->H, m->W);
  }
  b.off = 0;
  layout(m, &b); /* the arena starts at nodes[0].out, which cb_model_free releases */
  m->be->zero(m->be, b.base, m->bytes_activations);
  m->host_loss = cb_calloc((size_t)max_batch, sizeof(float), "losses");
  m->host_ce = cb_calloc((size_t)max_batch, sizeof(float), "losses");
  if (!m->host_loss || !m->host_ce) return -1;
  return m->be->status(m->be);
}

void cb_model_free(cb_model *m) {
  if (!m) return;
  if (m->params) m->be->free(m->be, m->params);
  if (m->grads) m->be->free(m->be, m->grads);
  /* The activation arena starts at the first node's output buffer. */
  if (m->n_nodes && m->nodes[0].out) m->be->free(m->be, (char *)m->nodes[0].out);
  free(m->host_loss);
  free(m->host_ce);
  free(m->nodes);
  free(m->tensors);
  free(m);
}

void cb_model_init_params(cb_model *m, uint64_t seed) {
  float *h = cb_malloc((size_t)m->n_params * sizeof(float), "initial parameters");
  if (!h) abort();
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    const cb_node *nd = &m->nodes[ts->node];
    float *p = h + ts->offset;
    if (nd->kind == CB_NODE_GN) {
      for (int64_t j = 0; j < ts->numel; j++)
        p[j] = ts->is_bias ? 0.0f : 1.0f;
      continue;
    }
    /* PyTorch: fan_in = weight.size(1) * k * k, also for ConvTranspose2d
     * (whose dim 1 is Cout). Kaiming-uniform(a=sqrt 5) and the bias rule
     * both give the bound 1/sqrt(fan_in). */
    const cb_tensor *wt = &m->tensors[nd->w_tensor];
    double fan_in = (double)wt->shape[1] * wt->shape[2] * wt->shape[3];
    double bound = 1.0 / sqrt(fan_in);
    for (int64_t j = 0; j < ts->numel; j++) {
      double u = cb_uniform(seed, CB_STREAM_INIT, (uint32_t)t, (uint64_t)j);
      p[j] = (float)((2.0 * u - 1.0) * bound);
    }
  }
  m->be->upload(m->be, m->params, h, (size_t)m->n_params * sizeof(float));
  free(h);
}

static void node_forward(cb_model *m, cb_node *nd, int n) {
  switch (nd->kind) {
  case CB_NODE_INPUT: break;
  case CB_NODE_CONV: cb_conv_forward(m, nd, n); break;
  case CB_NODE_CONVT: cb_convt_forward(m, nd, n); break;
  case CB_NODE_GN: cb_gn_forward(m, nd, n); break;
  case CB_NODE_RELU: cb_relu_forward(m, nd, n); break;
  case CB_NODE_MAXPOOL: cb_maxpool_forward(m, nd, n); break;
  case CB_NODE_UPSAMPLE: cb_upsample_forward(m, nd, n); break;
  case CB_NODE_CONCAT: cb_concat_forward(m, nd, n); break;
  }
}

static void node_backward(cb_model *m, cb_node *nd, int n) {
  switch (nd->kind) {
  case CB_NODE_INPUT: break;
  case CB_NODE_CONV: cb_conv_backward(m, nd, n); break;
  case CB_NODE_CONVT: cb_convt_backward(m, nd, n); break;
  case CB_NODE_GN: cb_gn_backward(m, nd, n); break;
  case CB_NODE_RELU: cb_relu_backward(m, nd, n); break;
  case CB_NODE_MAXPOOL: cb_maxpool_backward(m, nd, n); break;
  case CB_NODE_UPSAMPLE: cb_upsample_backward(m, nd, n); break;
  case CB_NODE_CONCAT: cb_concat_backward(m, nd, n); break;
  }
}

void cb_model_forward(cb_model *m, int n) {
  for (int i = 0; i < m->n_nodes; i++)
    node_forward(m, &m->nodes[i], n);
}

/* The study's batch-level loss: per-image (I_c, sum E_c, Y_c) from the
 * kernels, summed here over the batch. host_loss[i] is the loss of image i
 * alone under the same formula (what the study's validation, batch size 1,
 * reports); the gradient uses the batch's sums. */
static void batch_loss(cb_model *m, int n) {
  const cb_node *out = &m->nodes[m->n_nodes - 1];
  int K = m->cfg.classes, T = m->H * m->W;
  cb_launch_batch_loss_fwd(
      m->be, (int64_t)n * T,
      (cb_k_batch_loss_fwd){out->out, m->labels, m->probs, m->nll, K, T, m->loss.softmax_input});
  cb_launch_loss_reduce(
      m->be, (int64_t)n * (K + 1),
      (cb_k_loss_reduce){m->probs, m->nll, m->labels, m->loss_stats, m->loss_ce, K, T});
  float stats[CB_MAX_CLASSES * 3], tot[CB_MAX_CLASSES * 2];
  double I[CB_MAX_CLASSES] = {0}, Q[CB_MAX_CLASSES] = {0};
  m->be->download(m->be, m->host_ce, m->loss_ce, (size_t)n * sizeof(float));
  for (int i = 0; i < n; i++) {
    m->be->download(m->be, stats, m->loss_stats + (int64_t)i * K * 3,
                    (size_t)K * 3 * sizeof(float));
    double dice = 0.0;
    for (int k = 0; k < K; k++) {
      double q = (double)stats[3 * k + 1] + stats[3 * k + 2];
      dice += 1.0 - 2.0 * stats[3 * k] / (q + m->loss.smooth);
      I[k] += stats[3 * k];
      Q[k] += q;
    }
    m->host_loss[i] = (float)(m->loss.w_ce * (double)m->host_ce[i] + m->loss.w_dice * dice / K);
  }
  for (int k = 0; k < K; k++) {
    tot[2 * k] = (float)I[k];
    tot[2 * k + 1] = (float)(Q[k] + m->loss.smooth);
  }
  m->be->upload(m->be, m->loss_stats, tot, (size_t)K * 2 * sizeof(float));
}

void cb_model_loss(cb_model *m, int n) {
  const cb_node *out = &m->nodes[m->n_nodes - 1];
  int K = m->cfg.classes, T = m->H * m->W;
  if (n == 0) return;
  if (m->loss.batch) {
    batch_loss(m, n);
    return;
  }
  cb_launch_softmax_nll(m->be, (int64_t)n * T,
                        (cb_k_softmax_nll){out->out, m->labels, m->probs, m->nll, K, T});
  cb_launch_loss_reduce(
      m->be, (int64_t)n * (K + 1),
      (cb_k_loss_reduce){m->probs, m->nll, m->labels, m->loss_stats, m->loss_ce, K, T});
  float stats[CB_MAX_CLASSES * 3];
  m->be->download(m->be, m->host_ce, m->loss_ce, (size_t)n * sizeof(float));
  for (int i = 0; i < n; i++) {
    double dice = 0.0;
    m->be->download(m->be, stats, m->loss_stats + (int64_t)i * K * 3,
                    (size_t)K * 3 * sizeof(float));
    for (int k = 0; k < K; k++)
      dice += (2.0 * stats[3 * k] + m->loss.smooth) /
              ((double)stats[3 * k + 1] + stats[3 * k + 2] + m->loss.smooth);
    m->host_loss[i] =
        (float)(m->loss.w_ce * (double)m->host_ce[i] + m->loss.w_dice * (1.0 - dice / K));
  }
}

/* Zeroes the gradients due before backward step `step` (-1: before the
 * pass): a shared gradient buffer is zeroed when its node's live range
 * begins, since consumers accumulate into it. */
static void zero_node_grads(cb_model *m, int n, int step) {
  for (int i = 0; i < m->n_nodes; i++) {
    cb_node *nd = &m->nodes[i];
    if (nd->dout && nd->zero_at == step)
      m->be->zero(m->be, nd->dout, (size_t)n * cb_node_size(nd) * sizeof(float));
  }
}

static void backward_nodes(cb_model *m, int n) {
  for (int i = m->n_nodes - 1; i > 0; i--) {
    zero_node_grads(m, n, i);
    node_backward(m, &m->nodes[i], n);
  }
}

void cb_model_backward(cb_model *m, int n) {
  cb_node *out = &m->nodes[m->n_nodes - 1];
  int K = m->cfg.classes, T = m->H * m->W;
  zero_node_grads(m, n, -1);
  if (n == 0) return;
  if (m->loss.batch) {
    cb_launch_batch_loss_bwd(m->be, (int64_t)n * T,
                             (cb_k_batch_loss_bwd){out->out, m->loss_stats, m->labels, out->dout, K,
                                                   T, n, m->loss.softmax_input, m->loss.w_ce,
                                                   m->loss.w_dice});
    backward_nodes(m, n);
    return;
  }
  cb_launch_loss_bwd(m->be, (int64_t)n * T,
                     (cb_k_loss_bwd){m->probs, m->loss_stats, m->labels, out->dout, K, T,
                                     m->loss.w_ce, m->loss.w_dice, m->loss.smooth});
  backward_nodes(m, n);
}

void cb_model_backward_from(cb_model *m, int n, const float *host_dout) {
  cb_node *out = &m->nodes[m->n_nodes - 1];
  zero_node_grads(m, n, -1);
  if (n == 0) return;
  m->be->upload(m->be, out->dout, host_dout, (size_t)n * cb_node_size(out) * sizeof(float));
  backward_nodes(m, n);
}

void cb_node_grad_weighted2(cb_model *m, int node, int n, const float *coef_w, const float *coef_b,
                            float *dst, float beta) {
  cb_node *nd = &m->nodes[node];
  switch (nd->kind) {
  case CB_NODE_CONV: cb_conv_grad_weighted(m, nd, n, coef_w, coef_b, dst, beta); break;
  case CB_NODE_CONVT: cb_convt_grad_weighted(m, nd, n, coef_w, coef_b, dst, beta); break;
  case CB_NODE_GN: cb_gn_grad_weighted(m, nd, n, coef_w, coef_b, dst, beta); break;
  default: break;
  }
}

void cb_node_grad_weighted(cb_model *m, int node, int n, const float *host_coef, float *dst,
                           float beta) {
  cb_node_grad_weighted2(m, node, n, host_coef, host_coef, dst, beta);
}

void cb_node_grad_per_sample(cb_model *m, int node, int n, float *out, int64_t ld) {
  cb_node *nd = &m->nodes[node];
  switch (nd->kind) {
  case CB_NODE_CONV: cb_conv_grad_per_sample(m, nd, n, out, ld); break;
  case CB_NODE_CONVT: cb_convt_grad_per_sample(m, nd, n, out, ld); break;
  case CB_NODE_GN: cb_gn_grad_per_sample(m, nd, n, out, ld); break;
  default: break;
  }
}

void cb_node_ghost_sqnorm(cb_model *m, int node, int n, float *scratch, double *host_w,
                          double *host_b) {
  cb_node *nd = &m->nodes[node];
  if (nd->kind == CB_NODE_CONV)
    cb_conv_ghost(m, nd, n, scratch, host_w, host_b);
  else if (nd->kind == CB_NODE_CONVT)
    cb_convt_ghost(m, nd, n, scratch, host_w, host_b);
}

void cb_model_param_grads(cb_model *m, int n, const float *host_coef) {
  for (int i = 0; i < m->n_nodes; i++) {
    cb_node *nd = &m->nodes[i];
    if (!cb_node_is_param(nd)) continue;
    cb_node_grad_weighted(m, i, n, host_coef, m->grads + nd->p_off, 0.0f);
  }
}

void cb_upload_coef(cb_model *m, int n, const float *host_coef) {
  m->be->upload(m->be, m->coef_dev, host_coef, (size_t)n * sizeof(float));
}

void cb_weighted_rows(cb_model *m, int n, int64_t len, const float *rows, int64_t ld, float *dst,
                      float beta) {
  /* [1 x len] = coef [1 x n] * rows [n x len] */
  m->be->gemm(m->be, 0, 0, 1, (int)len, n, 1.0f, m->coef_dev, n, rows, (int)ld, beta, dst,
              (int)len);
}

void cb_rows_sqnorm(cb_model *m, const float *x, int64_t len, int64_t ld, int rows,
                    double *host_out) {
  int nch = len >= 64 * 4096 ? 64 : (int)(len / 4096) + 1;
  for (int r0 = 0; r0 < rows; r0 += m->max_batch) {
    int nr = rows - r0 < m->max_batch ? rows - r0 : m->max_batch;
    cb_launch_row_sumsq(m->be, (int64_t)nr * nch,
                        (cb_k_row_sumsq){x + r0 * ld, NULL, m->part, len, ld, nch});
    /* One download per 64 rows (a device round trip each), summed in the
     * same order as before. */
    double part[64 * 64];
    for (int rb = 0; rb < nr; rb += 64) {
      int nb = nr - rb < 64 ? nr - rb : 64;
      m->be->download(m->be, part, m->part + (int64_t)rb * nch, (size_t)nb * nch * sizeof(double));
      for (int r = 0; r < nb; r++) {
        double s = 0.0;
        for (int c = 0; c < nch; c++)
          s += part[r * nch + c];
        host_out[r0 + rb + r] = s;
      }
    }
  }
}

double cb_dot(cb_model *m, const float *x, const float *y, int64_t len) {
  int nch = len >= 64 * 4096 ? 64 : (int)(len / 4096) + 1;
  cb_launch_row_sumsq(m->be, nch, (cb_k_row_sumsq){x, y, m->part, len, len, nch});
  double part[64];
  m->be->download(m->be, part, m->part, (size_t)nch * sizeof(double));
  double s = 0.0;
  for (int c = 0; c < nch; c++)
    s += part[c];
  return s;
}
