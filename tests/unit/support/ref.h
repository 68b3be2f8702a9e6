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
void ref_relu(const double *x, int64_t n, double *y);
/* MaxPool2d(2): y [N, C, H/2, W/2]. */
void ref_maxpool2(const double *x, int N, int C, int H, int W, double *y);
/* Upsample(scale 2, bilinear, align_corners=True): y [N, C, 2H, 2W]. */
void ref_upsample2(const double *x, int N, int C, int H, int W, double *y);
/* Channel concat of k inputs xs[j] [N, Cs[j], H, W] into y [N, sum Cs, H, W]. */
void ref_concat(const double *const *xs, const int *Cs, int k, int N, int H, int W, double *y);
/* Per-image loss: w_ce * mean_t CE + w_dice * (1 - mean_c Dice_c) with soft
 * Dice over the image's own pixels. logits [N, K, T]. */
void ref_loss(const double *logits, const unsigned char *labels, int N, int K, int64_t T,
              cb_loss_cfg cfg, double *loss);

/* The model's graph (structure only: node kinds, inputs, shapes, parameter
 * offsets) evaluated with the functions above. params [n_params], input
 * [n, Cin, H, W]. Returns one buffer per node (free with ref_outputs_free). */
double **ref_forward(const cb_model *m, const double *params, const double *input, int n);
void ref_outputs_free(const cb_model *m, double **outs);
/* Per-image losses of the model (last node = logits) in double. */
void ref_model_loss(const cb_model *m, const double *params, const double *input,
                    const unsigned char *labels, int n, double *loss);

#endif
