/* Independent double-precision reference of every layer and of the per-image
 * loss, written naively from the definitions (PyTorch semantics), for the
 * layer and model tests. Nothing here shares code with core/nn or
 * core/kernels. Tensors are NCHW, row-major. */
#ifndef CB_TESTS_REF_H
#define CB_TESTS_REF_H

#include "core/nn/model.h"

#include <stdint.h>

/* Conv2d, stride 1, zero padding k/2. w [Cout, Cin, k, k], b [Cout] or NULL. */
void ref_conv2d(const double *x, int N, int Cin, int H, int W, const double *w, const double *b,
                int Cout, int k, double *y);
/* ConvTranspose2d(kernel 2, stride 2). w [Cin, Cout, 2, 2], b [Cout] or NULL;
 * y is [N, Cout, 2H, 2W]. */
void ref_convt2x2(const double *x, int N, int Cin, int H, int W, const double *w, const double *b,
                  int Cout, double *y);
/* GroupNorm with G groups, eps, affine gamma/beta [C]. */
void ref_group_norm(const double *x, int N, int C, int H, int W, int G, const double *gamma,
                    const double *beta, double eps, double *y);
/* ReLU and MaxPool2d(2) (y [N, C, H/2, W/2]). With a gate buffer they
 * record which branch each output took (replay = 0: mask / window argmax)
 * or reuse a recorded one (replay = 1); pass NULL for the plain layer. */
void ref_relu(const double *x, int64_t n, double *y, unsigned char *gate, int replay);
void ref_maxpool2(const double *x, int N, int C, int H, int W, double *y, unsigned char *gate,
                  int replay);
/* Upsample(scale 2, bilinear, align_corners=True): y [N, C, 2H, 2W]. */
void ref_upsample2(const double *x, int N, int C, int H, int W, double *y);
/* Channel concat of k inputs xs[j] [N, Cs[j], H, W] into y [N, sum Cs, H, W]. */
void ref_concat(const double *const *xs, const int *Cs, int k, int N, int H, int W, double *y);
/* Per-image loss: w_ce * mean_t CE + w_dice * (1 - mean_c Dice_c) with soft
 * Dice over the image's own pixels. logits [N, K, T]. */
void ref_loss(const double *logits, const unsigned char *labels, int N, int K, int64_t T,
              cb_loss_cfg cfg, double *loss);

/* Finite differences across a ReLU kink or a max-pool switch measure
 * neither one-sided derivative. Freezing the branches taken at the base
 * point gives a smooth function equal to the network on a neighbourhood of
 * it (the base point is almost surely not on a kink), so its central
 * differences converge to the gradient for any step. Record the gates with
 * one forward (replay = 0), then set replay = 1 for the perturbed ones. */
typedef struct {
  unsigned char **gate; /* per node, NULL for nodes without branches */
  int replay;
} ref_gates;
ref_gates *ref_gates_new(const cb_model *m, int n);
void ref_gates_free(const cb_model *m, ref_gates *g);

/* The model's graph (structure only: node kinds, inputs, shapes, parameter
 * offsets) evaluated with the functions above. params [n_params], input
 * [n, Cin, H, W]. Returns one buffer per node (free with ref_outputs_free). */
double **ref_forward(const cb_model *m, const double *params, const double *input, int n);
/* The same with gates (NULL: none). */
double **ref_forward_gated(const cb_model *m, const double *params, const double *input, int n,
                           ref_gates *g);
void ref_outputs_free(const cb_model *m, double **outs);
/* Per-image losses of the model (last node = logits) in double. */
void ref_model_loss(const cb_model *m, const double *params, const double *input,
                    const unsigned char *labels, int n, ref_gates *g, double *loss);

#endif
