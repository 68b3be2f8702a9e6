/* A model is a static list of nodes in execution order (llm.c style: no
 * autograd). Each node has explicit forward and backward functions; the
 * parameterised ones (Conv2d, ConvTranspose2d, GroupNorm) also expose what
 * the DP engine needs: per-sample gradients, ghost norms and the weighted
 * gradient sum  sum_i c_i g_i. All buffers come from arenas allocated once
 * for a maximum (physical) batch size and image size. */
#ifndef CB_NN_MODEL_H
#define CB_NN_MODEL_H

#include "core/backend/backend.h"

#include <stdint.h>
#include <stdio.h>

typedef enum {
  CB_ARCH_UNET = 0,
  CB_ARCH_NESTED_UNET = 1,
} cb_arch;

typedef enum {
  CB_UP_TRANSPOSE = 0, /* ConvTranspose2d(k=2, s=2) */
  CB_UP_BILINEAR = 1,  /* Upsample(x2, bilinear, align_corners=True) */
} cb_up_mode;

/* What builds a model. -1 in an int field means "the architecture's default"
 * until cb_model_cfg_resolve() fills it in. */
typedef struct {
  cb_arch arch;
  int width; /* base width (channels at the first level) */
  int depth; /* number of 2x down-samplings */
  int in_channels;
  int classes;
  int groups; /* GroupNorm groups (gcd with the channel count per layer) */
  int up;     /* cb_up_mode */
  int bias;   /* bias on the 3x3 convs (1/0) */
} cb_model_cfg;

extern const char *const CB_ARCH_NAMES[]; /* "unet", "nested_unet", NULL */
extern const char *const CB_UP_NAMES[];   /* "transpose", "bilinear", NULL */

/* Defaults: the seed study's configurations. unet: width 32, depth 4,
 * GroupNorm(32), bias-free 3x3 convs, transposed-conv up; nested_unet: width
 * 32, depth 4, GroupNorm(8), convs with bias, bilinear up. 1 input channel,
 * 9 classes. */
void cb_model_cfg_default(cb_model_cfg *c, cb_arch arch);
void cb_model_cfg_resolve(cb_model_cfg *c);
int cb_model_cfg_validate(const cb_model_cfg *c);

typedef enum {
  CB_NODE_INPUT,
  CB_NODE_CONV,  /* Conv2d, k x k, stride 1, pad k/2 */
  CB_NODE_CONVT, /* ConvTranspose2d, k=2, stride 2 */
  CB_NODE_GN,    /* GroupNorm */
  CB_NODE_RELU,
  CB_NODE_MAXPOOL,  /* MaxPool2d(2) */
  CB_NODE_UPSAMPLE, /* bilinear x2, align_corners=True */
  CB_NODE_CONCAT,   /* channel concatenation of its inputs, in order */
} cb_node_kind;

#define CB_MAX_INPUTS 8

typedef struct {
  cb_node_kind kind;
  char name[64];
  int in[CB_MAX_INPUTS];
  int n_in;
  int C, H, W;  /* output shape of one sample */
  int k;        /* conv kernel size */
  int groups;   /* GroupNorm groups */
  int w_tensor; /* parameter tensor indices, -1 if none */
  int b_tensor;
  int64_t p_off;   /* offset of the node's parameters (weight then bias) */
  int64_t p_numel; /* weight + bias elements */
  /* Buffers sized for the maximum batch (device pointers). */
  float *out, *dout;
  float *aux0, *aux1; /* GroupNorm mean / rstd */
  unsigned char *idx; /* MaxPool argmax */
  int needs_dx;       /* whether backward must produce the input gradient */
  /* The backward step (node index) before which dout is zeroed: -1 for the
   * gradients kept for the whole step (parameter nodes, the output, the
   * input), else the node's last consumer, for a gradient that shares its
   * memory with others whose live ranges it does not overlap. */
  int zero_at;
} cb_node;

typedef struct {
  char name[96];
  int ndim;
  int shape[4];
  int64_t numel;
  int64_t offset; /* into params / grads */
  int node;
  int is_bias;
} cb_tensor;

typedef struct {
  float w_ce, w_dice, smooth;
  /* loss.reduction: batch: the study's batch-level CE + Dice
   * (core/kernels/loss.h), with u = softmax(logits) as its input when
   * softmax_input is set (the study's U-Net ends in Softmax2d). */
  int batch, softmax_input;
} cb_loss_cfg;

typedef struct cb_model {
  const cb_backend *be;
  cb_model_cfg cfg;
  cb_loss_cfg loss;
  int H, W;       /* input image size */
  int max_batch;  /* physical batch the buffers hold */
  int input_grad; /* the input node gets a gradient buffer (custom graphs) */
  /* Every node keeps its own output and gradient buffers (custom graphs and
   * tests that read intermediate nodes). Otherwise a ReLU after a GroupNorm
   * runs in place, and buffers dead for part of the step share memory by live
   * range: the gradients of parameter-free nodes (ReLU, pool, upsample,
   * concat) once their own backward has run, and outputs only copied into a
   * concat (upsampled tensors) once the concat has run (model.c, layout). */
  int keep_all;
  cb_node *nodes;
  int n_nodes, cap_nodes;
  cb_tensor *tensors;
  int n_tensors, cap_tensors;
  int64_t n_params;
  /* Device buffers. */
  float *params, *grads;
  float *input;          /* [max_batch, Cin, H, W] = nodes[0].out */
  unsigned char *labels; /* [max_batch, H, W] */
  float *probs, *nll;    /* [max_batch, K, T], [max_batch, T] */
  float *loss_stats;     /* [max_batch, K, 3]; batch loss: its first 2K hold (I_c, Q_c + s) */
  float *loss_ce;        /* [max_batch] */
  float *work;           /* shared scratch (im2col etc.) */
  size_t work_floats;
  float *tmp_rows; /* [max_batch, max node params] per-sample scratch */
  float *coef_dev; /* [max_batch] */
  double *part;    /* row reduction partials */
  size_t part_len;
  /* Host copies of the last forward's per-image losses. */
  float *host_loss, *host_ce;
  size_t bytes_activations, bytes_params;
} cb_model;

/* Builds the graph of cfg for images of H x W (no buffers yet). */
cb_model *cb_model_create(const cb_backend *be, const cb_model_cfg *cfg, int H, int W);
/* An empty model for a hand-built graph (single-layer tests, custom
 * architectures): only an input node of in_channels x H x W, which also gets
 * a gradient buffer so dL/dx can be read from nodes[0].dout. Add nodes with
 * the cb_add_* helpers, then cb_model_alloc. The loss reads the last node as
 * the logits, so it applies only when that node is classes x H x W. */
cb_model *cb_model_create_graph(const cb_backend *be, int in_channels, int H, int W, int classes);
/* Allocates parameters, gradients, activations and scratch for batches of up
 * to max_batch images. */
int cb_model_alloc(cb_model *m, int max_batch);
void cb_model_free(cb_model *m);

/* PyTorch-default initialisation (Kaiming-uniform a=sqrt(5) for conv
 * weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases, GroupNorm 1 / 0),
 * drawn from Philox at (seed, INIT, tensor index, element) so it does not
 * depend on the thread count. */
void cb_model_init_params(cb_model *m, uint64_t seed);

/* Forward on n <= max_batch images already in m->input; then the per-image
 * loss against m->labels. Copies the n losses to m->host_loss. Returns the
 * logits node's output. */
void cb_model_forward(cb_model *m, int n);
void cb_model_loss(cb_model *m, int n);
/* Backward from dL_i/dlogits through every node, producing input gradients
 * only (parameter gradients are taken separately, below). */
void cb_model_backward(cb_model *m, int n);
/* The same from a caller-supplied gradient of the last node's output
 * (host_dout, n x C x H x W of that node) instead of the loss: custom
 * objectives and single-layer tests. */
void cb_model_backward_from(cb_model *m, int n, const float *host_dout);

/* Non-private parameter gradient: grads = sum_i coef[i] * g_i over all
 * parameterised nodes (coef = 1/n gives the batch mean). */
void cb_model_param_grads(cb_model *m, int n, const float *host_coef);

/* Per-node DP interface (node must have parameters). */
int cb_node_is_param(const cb_node *nd);
/* dst (the node's region of a gradient buffer) = beta*dst + sum_i c_i g_i. */
void cb_node_grad_weighted(cb_model *m, int node, int n, const float *host_coef, float *dst,
                           float beta);
/* The same with separate coefficients for the weight and the bias (their
 * clipping groups may differ, e.g. per-tensor thresholds). */
void cb_node_grad_weighted2(cb_model *m, int node, int n, const float *coef_w, const float *coef_b,
                            float *dst, float beta);
/* out[i*ld + j] = g_i[j] for the node's parameters (weight then bias). */
void cb_node_grad_per_sample(cb_model *m, int node, int n, float *out, int64_t ld);
/* Whether the node supports the ghost norm (convolutions). */
int cb_node_has_ghost(const cb_node *nd);
/* T (positions), p, d of the node's weight GEMM, for the mixed rule. */
void cb_node_gemm_dims(const cb_model *m, const cb_node *nd, int64_t *T, int64_t *p, int64_t *d);
/* Ghost squared norms of the weight and bias gradients, per sample, into
 * host_w[n] and host_b[n]. Needs 2*T*T floats of scratch at `scratch`. */
void cb_node_ghost_sqnorm(cb_model *m, int node, int n, float *scratch, double *host_w,
                          double *host_b);

/* Squared L2 norm of each of `rows` rows of x (device) into host_out. */
void cb_rows_sqnorm(cb_model *m, const float *x, int64_t len, int64_t ld, int rows,
                    double *host_out);

/* Table printing (clipbench model). */
void cb_model_print(const cb_model *m, FILE *f);
int64_t cb_model_tensor_numel(const cb_model *m, int t);
/* Forward FLOPs of one image (multiply-add = 2), for GFLOP/s figures. */
double cb_model_flops_forward(const cb_model *m);

/* Builders (core/models). */
int cb_build_unet(cb_model *m);
int cb_build_nested_unet(cb_model *m);

/* Graph construction helpers used by the builders. Each returns the new
 * node's index. */
int cb_add_input(cb_model *m, int C, int H, int W);
int cb_add_conv(cb_model *m, const char *name, int in, int cout, int k, int bias);
int cb_add_convt(cb_model *m, const char *name, int in, int cout);
int cb_add_gn(cb_model *m, const char *name, int in, int groups);
int cb_add_relu(cb_model *m, int in);
int cb_add_maxpool(cb_model *m, int in);
int cb_add_upsample(cb_model *m, int in);
int cb_add_concat(cb_model *m, const int *ins, int n);

#endif
