/* Nested U-Net (UNet++, Zhou et al. 2018) without deep supervision, as in
 * the seed study (4uiiurz1/pytorch-nested-unet with GroupNorm): nodes
 * X(i,0) form the backbone (VGG block after MaxPool), and every X(i,j), j>=1,
 * is a VGG block on concat(X(i,0..j-1), up(X(i+1,j-1))). VGG block =
 * [3x3 conv -> GroupNorm -> ReLU] x 2. The 1x1 head reads X(0,depth).
 * Tensor names: conv{i}_{j}.conv1.weight, conv{i}_{j}.norm1.weight, ...,
 * final.weight. */
#include "core/nn/model.h"

#include <stdio.h>

#define MAXD 7

static int vgg(cb_model *m, int in, int cout, int i, int j) {
  char nm[64];
  int x = in;
  for (int r = 1; r <= 2; r++) {
    snprintf(nm, sizeof nm, "conv%d_%d.conv%d", i, j, r);
    x = cb_add_conv(m, nm, x, cout, 3, m->cfg.bias);
    snprintf(nm, sizeof nm, "conv%d_%d.norm%d", i, j, r);
    x = cb_add_gn(m, nm, x, m->cfg.groups);
    x = cb_add_relu(m, x);
  }
  return x;
}

static int up(cb_model *m, int x, int cout, int i, int j) {
  if (m->cfg.up == CB_UP_BILINEAR) return cb_add_upsample(m, x);
  char nm[64];
  snprintf(nm, sizeof nm, "up%d_%d", i, j);
  return cb_add_convt(m, nm, x, cout);
}

int cb_build_nested_unet(cb_model *m) {
  const cb_model_cfg *c = &m->cfg;
  int D = c->depth;
  int X[MAXD][MAXD];
  int nb[MAXD];
  for (int i = 0; i <= D; i++)
    nb[i] = c->width << i;
  int x = cb_add_input(m, c->in_channels, m->H, m->W);
  /* Execution order of the reference forward(): column by column along the
   * anti-diagonals, X(i,0) first, then every X(i-k, k). */
  for (int i = 0; i <= D; i++) {
    int src = i == 0 ? x : cb_add_maxpool(m, X[i - 1][0]);
    X[i][0] = vgg(m, src, nb[i], i, 0);
    for (int j = 1; j <= i; j++) {
      int r = i - j; /* row of the new node X(r, j) */
      int ins[CB_MAX_INPUTS];
      int n = 0;
      for (int k = 0; k < j; k++)
        ins[n++] = X[r][k];
      ins[n++] = up(m, X[r + 1][j - 1], nb[r], r + 1, j - 1);
      int cat = cb_add_concat(m, ins, n);
      X[r][j] = vgg(m, cat, nb[r], r, j);
    }
  }
  cb_add_conv(m, "final", X[0][D], c->classes, 1, 1);
  return 0;
}
