/* The model a checkpoint was saved from, read back from its metadata, so a
 * checkpoint can be used (predictions, per-sample gradients) without the
 * experiment file. */
#include "core/base/error.h"
#include "core/io/checkpoint.h"
#include "core/io/json_parse.h"

#include <string.h>

static int get_int(const cb_jv *o, const char *key, int *out) {
  const cb_jv *v = cb_jv_get(o, key);
  if (!v || v->kind != CB_JV_NUM || !v->is_int) return -1;
  *out = (int)v->i;
  return 0;
}

static int get_choice(const cb_jv *o, const char *key, const char *const *names, int *out) {
  const cb_jv *v = cb_jv_get(o, key);
  if (!v || v->kind != CB_JV_STR) return -1;
  for (int k = 0; names[k]; k++)
    if (strcmp(names[k], v->str) == 0) {
      *out = k;
      return 0;
    }
  return -1;
}

int cb_checkpoint_model_cfg(const char *path, cb_model_cfg *cfg, cb_meta *meta) {
  cb_st_file f;
  if (cb_st_read(path, &f)) return -1;
  const char *mj = cb_meta_get(&f.meta, "clipbench.model");
  int rc = -1;
  cb_jv v = {0};
  if (!mj) {
    cb_error("%s: not a clipbench checkpoint (no clipbench.model metadata); give the model "
             "options instead",
             path);
  } else if (cb_jv_parse(mj, strlen(mj), path, &v) == 0) {
    int arch, up;
    const cb_jv *b = cb_jv_get(&v, "bias");
    if (get_choice(&v, "arch", CB_ARCH_NAMES, &arch) || get_choice(&v, "up", CB_UP_NAMES, &up) ||
        get_int(&v, "width", &cfg->width) || get_int(&v, "depth", &cfg->depth) ||
        get_int(&v, "in_channels", &cfg->in_channels) || get_int(&v, "classes", &cfg->classes) ||
        get_int(&v, "groups", &cfg->groups) || !b || b->kind != CB_JV_BOOL) {
      cb_error("%s: clipbench.model metadata is incomplete: %s", path, mj);
    } else {
      cfg->arch = (cb_arch)arch;
      cfg->up = up;
      cfg->bias = b->boolean;
      rc = 0;
    }
  }
  cb_jv_free(&v);
  if (rc == 0 && meta) {
    for (int k = 0; k < f.meta.n; k++)
      if (cb_meta_set(meta, f.meta.keys[k], f.meta.values[k])) rc = -1;
  }
  cb_st_close(&f);
  return rc;
}
