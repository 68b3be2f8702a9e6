#include "core/io/checkpoint.h"

#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/sha256.h"
#include "core/io/json_parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESERVED "clipbench."
#define OPT_PREFIX "optimizer."
#define SUM_KEY RESERVED "sha256"

static int by_key(const void *a, const void *b) {
  return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* Adds every metadata key and value but the checksum's own, sorted by key
 * (the file keeps insertion order, but the checksum must not depend on it). */
static int hash_meta(cb_sha256 *h, const cb_meta *md) {
  char ***order = cb_malloc((size_t)(md->n ? md->n : 1) * sizeof *order, "metadata order");
  if (!order) return -1;
  for (int k = 0; k < md->n; k++)
    order[k] = &md->keys[k];
  qsort(order, (size_t)md->n, sizeof *order, by_key);
  for (int k = 0; k < md->n; k++) {
    const char *key = *order[k];
    if (strcmp(key, SUM_KEY) == 0) continue;
    const char *val = md->values[order[k] - md->keys];
    cb_sha256_update(h, key, strlen(key) + 1);
    cb_sha256_update(h, val, strlen(val) + 1);
  }
  free(order);
  return 0;
}

static void hex_digest(cb_sha256 *h, char hex[65]) {
  uint8_t d[32];
  cb_sha256_final(h, d);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The checksum of a file as read: its tensor bytes, which tile the end of
 * the file in file order, and its metadata. */
static int file_checksum(const cb_st_file *f, char hex[65]) {
  size_t total = 0;
  for (int k = 0; k < f->n; k++)
    total += f->t[k].nbytes;
  cb_sha256 h;
  cb_sha256_init(&h);
  cb_sha256_update(&h, f->buf + (f->len - total), total);
  if (hash_meta(&h, &f->meta)) return -1;
  hex_digest(&h, hex);
  return 0;
}

/* The first non-finite value of a file's float tensors, or -1. */
static int first_non_finite(const cb_st_file *f, int *tensor) {
  for (int k = 0; k < f->n; k++) {
    const cb_st_tensor *t = &f->t[k];
    if (t->dtype != CB_ST_F32) continue;
    for (int64_t i = 0; i < t->numel; i++) {
      float v;
      memcpy(&v, t->data + 4 * i, 4);
      if (!isfinite(v)) {
        *tensor = k;
        return (int)(i < INT32_MAX ? i : INT32_MAX);
      }
    }
  }
  return -1;
}

/* Checksum (format 2) and finite values of a file already parsed. */
static int check_integrity(const cb_st_file *f) {
  const char *fmt = cb_meta_get(&f->meta, RESERVED "format");
  const char *sum = cb_meta_get(&f->meta, SUM_KEY);
  if (fmt && strcmp(fmt, "1") != 0) {
    char now[65];
    if (!sum)
      return cb_error("%s is damaged: format %s but no checksum (" SUM_KEY ")", f->what, fmt);
    if (file_checksum(f, now)) return -1;
    if (strcmp(now, sum) != 0)
      return cb_error("%s is damaged: its checksum does not match its contents (a flipped bit, "
                      "an edit or a partial copy)",
                      f->what);
  }
  int k = -1, i = first_non_finite(f, &k);
  if (i >= 0)
    return cb_error("%s is damaged: tensor '%s' holds a non-finite value (element %d)", f->what,
                    f->t[k].name, i);
  return 0;
}

int cb_checkpoint_verify(const char *path) {
  cb_st_file f;
  if (cb_st_read(path, &f)) return cb_error_prefix("damaged checkpoint: ");
  const char *fmt = cb_meta_get(&f.meta, RESERVED "format");
  int rc = fmt && strcmp(fmt, "1") != 0 && strcmp(fmt, CB_CHECKPOINT_FORMAT) != 0
               ? cb_error("%s has checkpoint format %s; this clipbench reads formats 1 and "
                          "" CB_CHECKPOINT_FORMAT,
                          path, fmt)
               : check_integrity(&f);
  cb_st_close(&f);
  return rc;
}

static char *model_json(const cb_model *m) {
  const cb_model_cfg *c = &m->cfg;
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "arch", CB_ARCH_NAMES[c->arch]);
  cb_json_kv_int(&j, "width", c->width);
  cb_json_kv_int(&j, "depth", c->depth);
  cb_json_kv_int(&j, "in_channels", c->in_channels);
  cb_json_kv_int(&j, "classes", c->classes);
  cb_json_kv_int(&j, "groups", c->groups);
  cb_json_kv_str(&j, "up", CB_UP_NAMES[c->up]);
  cb_json_kv_bool(&j, "bias", c->bias);
  cb_json_kv_int(&j, "params", m->n_params);
  cb_json_kv_int(&j, "tensors", m->n_tensors);
  cb_json_obj_end(&j);
  char *s = j.oom ? NULL : cb_strdup(cb_json_text(&j));
  cb_json_free(&j);
  return s;
}

static char *optim_json(const cb_optim *o) {
  const cb_optim_cfg *c = &o->cfg;
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "kind", CB_OPTIM_NAMES[c->kind]);
  cb_json_kv_int(&j, "steps", o->steps);
  cb_json_kv_num(&j, "lr", c->lr);
  cb_json_kv_num(&j, "momentum", c->momentum);
  cb_json_kv_bool(&j, "nesterov", c->nesterov);
  cb_json_kv_num(&j, "weight_decay", c->weight_decay);
  cb_json_kv_num(&j, "beta1", c->beta1);
  cb_json_kv_num(&j, "beta2", c->beta2);
  cb_json_kv_num(&j, "eps", c->eps);
  cb_json_obj_end(&j);
  char *s = j.oom ? NULL : cb_strdup(cb_json_text(&j));
  cb_json_free(&j);
  return s;
}

static void tensor_shape(const cb_tensor *t, cb_st_entry *e) {
  e->ndim = t->ndim;
  for (int d = 0; d < t->ndim; d++)
    e->shape[d] = t->shape[d];
}

int cb_checkpoint_save(const char *path, const cb_model *m, const cb_optim *opt,
                       const cb_meta *meta) {
  const cb_backend *be = m->be;
  int n_slots = opt ? opt->n_slots : 0;
  if (opt && opt->n != m->n_params)
    return cb_error("checkpoint %s: the optimizer holds %lld parameters, the model %lld", path,
                    (long long)opt->n, (long long)m->n_params);
  int n_ent = m->n_tensors * (1 + n_slots), rc = -1;
  size_t bytes = (size_t)m->n_params * sizeof(float);
  float *host = cb_malloc(bytes * (size_t)(1 + n_slots), "checkpoint buffer");
  cb_st_entry *e = cb_calloc((size_t)n_ent, sizeof *e, "checkpoint entries");
  char **names = cb_calloc((size_t)n_ent, sizeof *names, "checkpoint names");
  cb_meta md = {0};
  char *mj = NULL, *oj = NULL;
  if (!host || !e || !names) goto out;
  be->download(be, host, m->params, bytes);
  for (int k = 0; k < n_slots; k++)
    be->download(be, host + (size_t)(k + 1) * m->n_params, opt->slot[k], bytes);
  /* A diverged state is no state to resume from. */
  for (size_t i = 0; i < (size_t)m->n_params * (size_t)(1 + n_slots); i++)
    if (!isfinite(host[i])) {
      cb_error("checkpoint %s not written: the %s holds a non-finite value (the run diverged)",
               path, i < (size_t)m->n_params ? "model" : "optimizer state");
      goto out;
    }
  for (int s = 0; s <= n_slots; s++)
    for (int t = 0; t < m->n_tensors; t++) {
      const cb_tensor *ts = &m->tensors[t];
      int i = s * m->n_tensors + t;
      if (s == 0) {
        e[i].name = ts->name;
      } else {
        const char *slot = cb_optim_slot_name(opt, s - 1);
        size_t len = strlen(OPT_PREFIX) + strlen(slot) + strlen(ts->name) + 2;
        names[i] = cb_malloc(len, "tensor name");
        if (!names[i]) goto out;
        snprintf(names[i], len, OPT_PREFIX "%s.%s", slot, ts->name);
        e[i].name = names[i];
      }
      e[i].dtype = CB_ST_F32;
      tensor_shape(ts, &e[i]);
      e[i].data = host + (size_t)s * m->n_params + ts->offset;
    }
  if (meta)
    for (int k = 0; k < meta->n; k++) {
      if (strncmp(meta->keys[k], RESERVED, strlen(RESERVED)) == 0) {
        cb_error("checkpoint %s: metadata key '%s' uses the reserved prefix '" RESERVED "'", path,
                 meta->keys[k]);
        goto out;
      }
      if (cb_meta_set(&md, meta->keys[k], meta->values[k])) goto out;
    }
  mj = model_json(m);
  oj = opt ? optim_json(opt) : NULL;
  if (!mj || (opt && !oj)) {
    cb_error("checkpoint %s: out of memory", path);
    goto out;
  }
  if (cb_meta_set(&md, RESERVED "format", CB_CHECKPOINT_FORMAT) ||
      cb_meta_set(&md, RESERVED "model", mj) || (oj && cb_meta_set(&md, RESERVED "optimizer", oj)))
    goto out;
  {
    /* The checksum covers the bytes in the order cb_st_write lays them out. */
    cb_sha256 h;
    char sum[65];
    cb_sha256_init(&h);
    for (int i = 0; i < n_ent; i++) {
      size_t nb = sizeof(float);
      for (int d = 0; d < e[i].ndim; d++)
        nb *= (size_t)e[i].shape[d];
      cb_sha256_update(&h, e[i].data, nb);
    }
    if (hash_meta(&h, &md)) goto out;
    hex_digest(&h, sum);
    if (cb_meta_set(&md, SUM_KEY, sum)) goto out;
  }
  rc = cb_st_write(path, e, n_ent, &md);
out:
  if (names)
    for (int i = 0; i < n_ent; i++)
      free(names[i]);
  free(names);
  free(e);
  free(host);
  free(mj);
  free(oj);
  cb_meta_free(&md);
  return rc;
}

/* Loads every tensor of the model from f into host [n_params]. */
static int load_params(const cb_st_file *f, const cb_model *m, const char *prefix, float *host) {
  char name[256];
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    int64_t shape[4];
    for (int d = 0; d < ts->ndim; d++)
      shape[d] = ts->shape[d];
    snprintf(name, sizeof name, "%s%s", prefix, ts->name);
    if (!cb_st_find(f, name)) {
      const char *saved = cb_meta_get(&f->meta, RESERVED "model");
      char *now = model_json(m);
      cb_error("%s has no tensor '%s': it was saved from a different model (saved: %s; this "
               "model: %s)",
               f->what, name, saved ? saved : "unknown", now ? now : "?");
      free(now);
      return -1;
    }
    if (cb_st_get_f32(f, name, ts->ndim, shape, host + ts->offset)) return -1;
  }
  return 0;
}

static int is_model_tensor(const cb_model *m, const char *name) {
  for (int t = 0; t < m->n_tensors; t++)
    if (strcmp(m->tensors[t].name, name) == 0) return 1;
  return 0;
}

/* The optimizer record of f, checked against opt; returns its step count. */
static int check_optimizer(const cb_st_file *f, const cb_optim *opt, int64_t *steps) {
  const char *oj = cb_meta_get(&f->meta, RESERVED "optimizer");
  if (!oj)
    return cb_error("%s holds no optimizer state (saved without an optimizer); load it as "
                    "weights only",
                    f->what);
  cb_jv v;
  char what[600];
  snprintf(what, sizeof what, "%s: metadata " RESERVED "optimizer", f->what);
  int rc = cb_jv_parse(oj, strlen(oj), what, &v);
  const cb_jv *kind = rc ? NULL : cb_jv_get(&v, "kind"), *st = rc ? NULL : cb_jv_get(&v, "steps");
  if (!rc && (!kind || kind->kind != CB_JV_STR || !st || st->kind != CB_JV_NUM || !st->is_int ||
              st->i < 0))
    rc = cb_error("%s: needs \"kind\" and a non-negative integer \"steps\"", what);
  if (!rc && strcmp(kind->str, CB_OPTIM_NAMES[opt->cfg.kind]) != 0)
    rc = cb_error("%s holds %s state but the run uses %s; resume with the same optimizer", f->what,
                  kind->str, CB_OPTIM_NAMES[opt->cfg.kind]);
  if (!rc) *steps = st->i;
  cb_jv_free(&v);
  return rc;
}

int cb_checkpoint_load(const char *path, cb_model *m, cb_optim *opt, cb_meta *meta) {
  cb_st_file f;
  if (cb_st_read(path, &f)) return -1;
  int n_slots = opt ? opt->n_slots : 0, rc = -1;
  int64_t steps = 0;
  size_t bytes = (size_t)m->n_params * sizeof(float);
  float *host = NULL;
  cb_meta out = {0};
  const char *fmt = cb_meta_get(&f.meta, RESERVED "format");
  if (fmt && strcmp(fmt, "1") != 0 && strcmp(fmt, CB_CHECKPOINT_FORMAT) != 0) {
    cb_error(
        "%s has checkpoint format %s; this clipbench reads formats 1 and " CB_CHECKPOINT_FORMAT,
        path, fmt);
    goto out;
  }
  if (check_integrity(&f)) goto out;
  if (opt && opt->n != m->n_params) {
    cb_error("loading %s: the optimizer holds %lld parameters, the model %lld", path,
             (long long)opt->n, (long long)m->n_params);
    goto out;
  }
  if (opt && check_optimizer(&f, opt, &steps)) goto out;
  /* Every tensor must be the model's or optimizer state. */
  for (int k = 0; k < f.n; k++)
    if (strncmp(f.t[k].name, OPT_PREFIX, strlen(OPT_PREFIX)) != 0 &&
        !is_model_tensor(m, f.t[k].name)) {
      cb_error("%s has tensor '%s', which this model does not have: it was saved from a "
               "different model (saved: %s)",
               path, f.t[k].name,
               cb_meta_get(&f.meta, RESERVED "model") ? cb_meta_get(&f.meta, RESERVED "model")
                                                      : "unknown");
      goto out;
    }
  host = cb_malloc(bytes * (size_t)(1 + n_slots), "checkpoint buffer");
  if (!host || load_params(&f, m, "", host)) goto out;
  for (int s = 0; s < n_slots; s++) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, OPT_PREFIX "%s.", cb_optim_slot_name(opt, s));
    if (load_params(&f, m, prefix, host + (size_t)(s + 1) * m->n_params)) goto out;
  }
  if (meta)
    for (int k = 0; k < f.meta.n; k++)
      if (strncmp(f.meta.keys[k], RESERVED, strlen(RESERVED)) != 0 &&
          cb_meta_set(&out, f.meta.keys[k], f.meta.values[k]))
        goto out;
  /* Everything is in hand: commit. */
  m->be->upload(m->be, m->params, host, bytes);
  for (int s = 0; s < n_slots; s++)
    opt->be->upload(opt->be, opt->slot[s], host + (size_t)(s + 1) * m->n_params, bytes);
  if (opt) opt->steps = steps;
  if (meta) {
    cb_meta_free(meta);
    *meta = out;
    memset(&out, 0, sizeof out);
  }
  rc = 0;
out:
  free(host);
  cb_meta_free(&out);
  cb_st_close(&f);
  return rc;
}
