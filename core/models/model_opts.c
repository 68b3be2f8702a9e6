#include "core/models/model_opts.h"

#include <stdio.h>

const char *const CB_BOOL_CHOICES[] = {"no", "yes", "false", "true", "off", "on", "0", "1", NULL};

void cb_model_opts_add(cb_cli *c, cb_model_opts *o, int width) {
  /* The help text must outlive this call (the parser keeps the pointer);
   * one command's options per process. */
  static char width_doc[64];
  snprintf(width_doc, sizeof width_doc, "base width: channels of the first level (%d)",
           width > 0 ? width : 32);
  o->arch = CB_ARCH_UNET;
  o->width = width;
  o->depth = o->classes = o->groups = o->bias = o->up = o->in_channels = -1;
  cb_cli_add_choice(c, "arch", &o->arch, CB_ARCH_NAMES, "architecture (default unet)");
  cb_cli_add(c, "width", CB_OPT_INT, &o->width, "W", width_doc);
  cb_cli_add(c, "depth", CB_OPT_INT, &o->depth, "D", "number of 2x down-samplings (4)");
  cb_cli_add(c, "classes", CB_OPT_INT, &o->classes, "K", "output classes (9)");
  cb_cli_add(c, "groups", CB_OPT_INT, &o->groups, "G",
             "GroupNorm groups, gcd with each layer's channels (unet 32, nested_unet 8)");
  cb_cli_add_choice(c, "bias", &o->bias, CB_BOOL_CHOICES,
                    "bias on the 3x3 convs (unet no, nested_unet yes)");
  cb_cli_add_choice(c, "up", &o->up, CB_UP_NAMES,
                    "up-sampling (unet transpose, nested_unet bilinear)");
  cb_cli_add(c, "in-channels", CB_OPT_INT, &o->in_channels, "C", "input channels (1)");
}

int cb_model_opts_resolve(const cb_model_opts *o, cb_model_cfg *cfg) {
  cfg->arch = (cb_arch)o->arch;
  cfg->width = o->width;
  cfg->depth = o->depth;
  cfg->classes = o->classes;
  cfg->groups = o->groups;
  cfg->bias = o->bias < 0 ? -1 : o->bias % 2;
  cfg->up = o->up;
  cfg->in_channels = o->in_channels;
  cb_model_cfg_resolve(cfg);
  return cb_model_cfg_validate(cfg);
}
