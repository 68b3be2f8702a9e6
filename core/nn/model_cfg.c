#include "core/base/error.h"
#include "core/nn/model.h"

#include <stdio.h>

const char *const CB_ARCH_NAMES[] = {"unet", "nested_unet", NULL};
const char *const CB_UP_NAMES[] = {"transpose", "bilinear", NULL};

void cb_model_cfg_default(cb_model_cfg *c, cb_arch arch) {
  c->arch = arch;
  c->width = -1;
  c->depth = -1;
  c->in_channels = -1;
  c->classes = -1;
  c->groups = -1;
  c->up = -1;
  c->bias = -1;
  cb_model_cfg_resolve(c);
}

void cb_model_cfg_resolve(cb_model_cfg *c) {
  int nested = c->arch == CB_ARCH_NESTED_UNET;
  if (c->width < 0) c->width = 32;
  if (c->depth < 0) c->depth = 4;
  if (c->in_channels < 0) c->in_channels = 1;
  if (c->classes < 0) c->classes = 9;
  if (c->groups < 0) c->groups = nested ? 8 : 32;
  if (c->up < 0) c->up = nested ? CB_UP_BILINEAR : CB_UP_TRANSPOSE;
  if (c->bias < 0) c->bias = nested ? 1 : 0;
}

int cb_model_cfg_validate(const cb_model_cfg *c) {
  if (c->arch != CB_ARCH_UNET && c->arch != CB_ARCH_NESTED_UNET)
    return cb_error("model.arch must be unet or nested_unet");
  if (c->width < 1 || c->width > 1024)
    return cb_error("model.width must be between 1 and 1024, got %d", c->width);
  if (c->depth < 1 || c->depth > 6)
    return cb_error("model.depth must be between 1 and 6, got %d", c->depth);
  if ((long long)c->width << c->depth > 16384)
    return cb_error("model.width %d with depth %d gives more than 16384 channels", c->width,
                    c->depth);
  if (c->in_channels < 1 || c->in_channels > 64)
    return cb_error("model.in_channels must be between 1 and 64, got %d", c->in_channels);
  if (c->classes < 2 || c->classes > 64)
    return cb_error("model.classes must be between 2 and 64, got %d", c->classes);
  if (c->groups < 1) return cb_error("model.groups must be at least 1, got %d", c->groups);
  if (c->up != CB_UP_TRANSPOSE && c->up != CB_UP_BILINEAR)
    return cb_error("model.up must be transpose or bilinear");
  if (c->bias != 0 && c->bias != 1) return cb_error("model.bias must be true or false");
  return 0;
}
