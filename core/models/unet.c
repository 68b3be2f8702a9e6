/* U-Net (Ronneberger et al. 2015) as in the seed study (mateuszbuda's
 * brain-segmentation U-Net with GroupNorm): per level a block of
 * [3x3 conv -> GroupNorm -> ReLU] x 2, MaxPool2d between levels, a bottleneck
 * block, then per level an up-sampling (ConvTranspose2d k2 s2 with bias, or
 * bilinear x2), concatenation with the skip, and a block; a 1x1 head.
 * Tensor names follow that PyTorch model (encoder1.enc1conv1.weight, ...),
 * so checkpoints load into it directly. */
#include "core/nn/model.h"

#include <stdio.h>

/* [conv -> GN -> ReLU] x 2; returns the last ReLU. */
static int block(cb_model *m, int in, int cout, const char *prefix, const char *tag) {
  char nm[64];
  int x = in;
  for (int r = 1; r <= 2; r++) {
    snprintf(nm, sizeof nm, "%s.%sconv%d", prefix, tag, r);
    x = cb_add_conv(m, nm, x, cout, 3, m->cfg.bias);
    snprintf(nm, sizeof nm, "%s.%snorm%d", prefix, tag, r);
    x = cb_add_gn(m, nm, x, m->cfg.groups);
    x = cb_add_relu(m, x);
  }
  return x;
}

int cb_build_unet(cb_model *m) {
  const cb_model_cfg *c = &m->cfg;
  int skip[8];
  char prefix[32], tag[32];
  int x = cb_add_input(m, c->in_channels, m->H, m->W);
  for (int l = 0; l < c->depth; l++) {
    snprintf(prefix, sizeof prefix, "encoder%d", l + 1);
    snprintf(tag, sizeof tag, "enc%d", l + 1);
    skip[l] = block(m, x, c->width << l, prefix, tag);
    x = cb_add_maxpool(m, skip[l]);
  }
  x = block(m, x, c->width << c->depth, "bottleneck", "bottleneck");
  for (int l = c->depth - 1; l >= 0; l--) {
    if (c->up == CB_UP_TRANSPOSE) {
      snprintf(prefix, sizeof prefix, "upconv%d", l + 1);
      x = cb_add_convt(m, prefix, x, c->width << l);
    } else {
      x = cb_add_upsample(m, x);
    }
    int cat[2] = {x, skip[l]};
    x = cb_add_concat(m, cat, 2);
    snprintf(prefix, sizeof prefix, "decoder%d", l + 1);
    snprintf(tag, sizeof tag, "dec%d", l + 1);
    x = block(m, x, c->width << l, prefix, tag);
  }
  cb_add_conv(m, "conv", x, c->classes, 1, 1);
  return 0;
}
