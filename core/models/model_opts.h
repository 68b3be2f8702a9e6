/* The model options every subcommand that builds a model shares:
 * --arch --width --depth --classes --groups --bias --up (and --in-channels).
 * Unset options take the architecture's defaults (the study's shapes). */
#ifndef CB_MODELS_MODEL_OPTS_H
#define CB_MODELS_MODEL_OPTS_H

#include "core/base/cli.h"
#include "core/nn/model.h"

typedef struct {
  int arch, width, depth, classes, groups, bias, up, in_channels;
} cb_model_opts;

/* width: the command's default base width (its --help says it); -1 for the
 * model's own (32). */
void cb_model_opts_add(cb_cli *c, cb_model_opts *o, int width);
/* Turns parsed options into a resolved, validated config. */
int cb_model_opts_resolve(const cb_model_opts *o, cb_model_cfg *cfg);

/* Accepted spellings of booleans on the command line (index % 2 = value). */
extern const char *const CB_BOOL_CHOICES[];

#endif
