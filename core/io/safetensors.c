#include "core/io/safetensors.h"

#include "core/base/error.h"
#include "core/base/json.h"
#include "core/io/json_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const DTYPE_NAMES[CB_ST_NDTYPES] = {"F64", "F32", "I64", "I32", "U8"};
static const size_t DTYPE_SIZES[CB_ST_NDTYPES] = {8, 4, 8, 4, 1};

const char *cb_st_dtype_name(cb_st_dtype d) {
  return d >= 0 && d < CB_ST_NDTYPES ? DTYPE_NAMES[d] : "?";
}

size_t cb_st_dtype_size(cb_st_dtype d) {
  return d >= 0 && d < CB_ST_NDTYPES ? DTYPE_SIZES[d] : 0;
}

static int little_endian(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

/* ---- metadata map ---- */

int cb_meta_set(cb_meta *m, const char *key, const char *value) {
  for (int k = 0; k < m->n; k++)
    if (strcmp(m->keys[k], key) == 0) {
      char *v = cb_strdup(value);
      if (!v) return -1;
      free(m->values[k]);
      m->values[k] = v;
      return 0;
    }
  if (m->n == m->cap) {
    int cap = m->cap ? 2 * m->cap : 16;
    char **nk = realloc(m->keys, (size_t)cap * sizeof *nk);
    if (!nk) return cb_error("out of memory growing a metadata map");
    m->keys = nk;
    char **nv = realloc(m->values, (size_t)cap * sizeof *nv);
    if (!nv) return cb_error("out of memory growing a metadata map");
    m->values = nv;
    m->cap = cap;
  }
  char *k = cb_strdup(key), *v = cb_strdup(value);
  if (!k || !v) {
    free(k);
    free(v);
    return -1;
  }
  m->keys[m->n] = k;
  m->values[m->n] = v;
  m->n++;
  return 0;
}

const char *cb_meta_get(const cb_meta *m, const char *key) {
  for (int k = 0; k < m->n; k++)
    if (strcmp(m->keys[k], key) == 0) return m->values[k];
  return NULL;
}

void cb_meta_free(cb_meta *m) {
  for (int k = 0; k < m->n; k++) {
    free(m->keys[k]);
    free(m->values[k]);
  }
  free(m->keys);
  free(m->values);
  memset(m, 0, sizeof *m);
}

/* ---- writer ---- */

static int check_entries(const char *path, const cb_st_entry *t, int n, size_t *data_len) {
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0)
      return cb_error("%s: tensor %d has an empty or reserved name", path, i);
    if (t[i].dtype < 0 || t[i].dtype >= CB_ST_NDTYPES)
      return cb_error("%s: tensor '%s' has an unknown dtype", path, t[i].name);
    if (t[i].ndim < 0 || t[i].ndim > CB_ST_MAX_DIMS)
      return cb_error("%s: tensor '%s' has %d dimensions (at most %d)", path, t[i].name, t[i].ndim,
                      CB_ST_MAX_DIMS);
    size_t numel = 1;
    for (int d = 0; d < t[i].ndim; d++) {
      if (t[i].shape[d] < 0)
        return cb_error("%s: tensor '%s' has a negative dimension", path, t[i].name);
      numel *= (size_t)t[i].shape[d];
    }
    if (numel && !t[i].data) return cb_error("%s: tensor '%s' has no data", path, t[i].name);
    for (int j = 0; j < i; j++)
      if (strcmp(t[j].name, t[i].name) == 0)
        return cb_error("%s: tensor name '%s' appears twice", path, t[i].name);
    off += numel * DTYPE_SIZES[t[i].dtype];
  }
  *data_len = off;
  return 0;
}

static char *header_json(const cb_st_entry *t, int n, const cb_meta *meta, size_t *len) {
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_obj_begin(&j);
  if (meta && meta->n) {
    cb_json_key(&j, "__metadata__");
    cb_json_obj_begin(&j);
    for (int k = 0; k < meta->n; k++)
      cb_json_kv_str(&j, meta->keys[k], meta->values[k]);
    cb_json_obj_end(&j);
  }
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    int64_t numel = 1;
    for (int d = 0; d < t[i].ndim; d++)
      numel *= t[i].shape[d];
    int64_t end = off + numel * (int64_t)DTYPE_SIZES[t[i].dtype];
    cb_json_key(&j, t[i].name);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "dtype", DTYPE_NAMES[t[i].dtype]);
    cb_json_key(&j, "shape");
    cb_json_arr_begin(&j);
    for (int d = 0; d < t[i].ndim; d++)
      cb_json_int(&j, t[i].shape[d]);
    cb_json_arr_end(&j);
    cb_json_key(&j, "data_offsets");
    cb_json_arr_begin(&j);
    cb_json_int(&j, off);
    cb_json_int(&j, end);
    cb_json_arr_end(&j);
    cb_json_obj_end(&j);
    off = end;
  }
  cb_json_obj_end(&j);
  if (j.oom) {
    cb_json_free(&j);
    return NULL;
  }
  /* Spaces after the JSON so the data starts at a multiple of 8. */
  size_t hl = j.len, padded = (8 + hl + 7) / 8 * 8 - 8;
  char *h = malloc(padded + 1);
  if (h) {
    memcpy(h, cb_json_text(&j), hl);
    memset(h + hl, ' ', padded - hl);
    h[padded] = 0;
  }
  *len = padded;
  cb_json_free(&j);
  return h;
}

static int fsync_dir_of(const char *path) {
  char *copy = cb_strdup(path);
  if (!copy) return -1;
  int fd = open(dirname(copy), O_RDONLY);
  free(copy);
  if (fd < 0) return 0; /* best effort: the rename itself is atomic */
  fsync(fd);
  close(fd);
  return 0;
}

int cb_st_write(const char *path, const cb_st_entry *t, int n, const cb_meta *meta) {
  if (!little_endian()) return cb_error("%s: safetensors needs a little-endian host", path);
  size_t data_len;
  if (check_entries(path, t, n, &data_len)) return -1;
  size_t hl;
  char *header = header_json(t, n, meta, &hl);
  if (!header) return cb_error("%s: out of memory building the safetensors header", path);
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
    free(header);
    return cb_error("%s: path too long", path);
  }
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    free(header);
    int e = errno;
    if (cb_io_explain(e)) return cb_io_error(e, "cannot create %s", tmp);
    return cb_error("cannot create %s: %s (does the directory exist and is it writable?)", tmp,
                    strerror(e));
  }
  unsigned char n8[8];
  for (int b = 0; b < 8; b++)
    n8[b] = (unsigned char)((uint64_t)hl >> (8 * b));
  int ok = fwrite(n8, 1, 8, f) == 8 && fwrite(header, 1, hl, f) == hl;
  for (int i = 0; ok && i < n; i++) {
    size_t bytes = DTYPE_SIZES[t[i].dtype];
    for (int d = 0; d < t[i].ndim; d++)
      bytes *= (size_t)t[i].shape[d];
    if (bytes) ok = fwrite(t[i].data, 1, bytes, f) == bytes;
  }
  free(header);
  int err = ok ? 0 : errno;
  if (ok && (fflush(f) != 0 || fsync(fileno(f)) != 0)) {
    ok = 0;
    err = errno;
  }
  if (fclose(f) != 0 && ok) {
    ok = 0;
    err = errno;
  }
  if (!ok) {
    remove(tmp);
    return cb_io_error(err, "writing %s failed", path);
  }
  if (rename(tmp, path) != 0) {
    err = errno;
    remove(tmp);
    return cb_io_error(err, "cannot rename %s to %s", tmp, path);
  }
  return fsync_dir_of(path);
}

/* ---- reader ---- */

static int bad(cb_st_file *f, const char *fmt, const char *a, const char *b) {
  char msg[CB_ERRMSG_MAX / 2];
  snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
  return cb_error("%s: %s", f->what, msg);
}

static int parse_dtype(const char *s, cb_st_dtype *d) {
  for (int k = 0; k < CB_ST_NDTYPES; k++)
    if (strcmp(s, DTYPE_NAMES[k]) == 0) {
      *d = (cb_st_dtype)k;
      return 0;
    }
  return -1;
}

/* A non-negative integer that fits in int64. */
static int as_count(const cb_jv *v, int64_t *out) {
  if (!v || v->kind != CB_JV_NUM || !v->is_int || v->i < 0) return -1;
  *out = v->i;
  return 0;
}

static int tensor_info(cb_st_file *f, const char *name, const cb_jv *v, cb_st_tensor *t,
                       int64_t *begin, int64_t *end) {
  if (v->kind != CB_JV_OBJ) return bad(f, "entry '%s' is not an object", name, NULL);
  for (int k = 0; k < v->n; k++)
    if (strcmp(v->keys[k], "dtype") && strcmp(v->keys[k], "shape") &&
        strcmp(v->keys[k], "data_offsets"))
      return bad(f, "tensor '%s' has an unknown field '%s'", name, v->keys[k]);
  const cb_jv *dt = cb_jv_get(v, "dtype"), *sh = cb_jv_get(v, "shape"),
              *of = cb_jv_get(v, "data_offsets");
  if (!dt || dt->kind != CB_JV_STR) return bad(f, "tensor '%s' has no dtype string", name, NULL);
  if (parse_dtype(dt->str, &t->dtype))
    return bad(f, "tensor '%s' has dtype %s; clipbench reads F32, F64, I64, I32 and U8", name,
               dt->str);
  if (!sh || sh->kind != CB_JV_ARR) return bad(f, "tensor '%s' has no shape array", name, NULL);
  if (sh->n > CB_ST_MAX_DIMS) return bad(f, "tensor '%s' has too many dimensions", name, NULL);
  t->ndim = sh->n;
  t->numel = 1;
  for (int d = 0; d < sh->n; d++) {
    if (as_count(&sh->items[d], &t->shape[d]))
      return bad(f, "tensor '%s' has a shape entry that is not a non-negative integer", name, NULL);
    if (t->shape[d] && t->numel > INT64_MAX / 8 / t->shape[d])
      return bad(f, "tensor '%s' has a shape too large to address", name, NULL);
    t->numel *= t->shape[d];
  }
  if (!of || of->kind != CB_JV_ARR || of->n != 2 || as_count(&of->items[0], begin) ||
      as_count(&of->items[1], end))
    return bad(f, "tensor '%s' needs data_offsets [begin, end] of non-negative integers", name,
               NULL);
  if (*end < *begin)
    return bad(f, "tensor '%s' has data_offsets with end before begin", name, NULL);
  t->nbytes = (size_t)t->numel * DTYPE_SIZES[t->dtype];
  if ((uint64_t)(*end - *begin) != (uint64_t)t->nbytes)
    return bad(f, "tensor '%s' has data_offsets that do not match its shape and dtype", name, NULL);
  return 0;
}

typedef struct {
  int64_t begin, end;
  int idx;
} span;

static int by_begin(const void *a, const void *b) {
  const span *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

static int parse_metadata(cb_st_file *f, const cb_jv *v) {
  if (v->kind != CB_JV_OBJ) return bad(f, "__metadata__ is not an object", NULL, NULL);
  for (int k = 0; k < v->n; k++) {
    if (v->items[k].kind != CB_JV_STR)
      return bad(f, "__metadata__ entry '%s' is not a string", v->keys[k], NULL);
    if (cb_meta_get(&f->meta, v->keys[k]))
      return bad(f, "__metadata__ key '%s' appears twice", v->keys[k], NULL);
    if (cb_meta_set(&f->meta, v->keys[k], v->items[k].str)) return -1;
  }
  return 0;
}

static int parse_header(cb_st_file *f, const cb_jv *root, size_t data_start) {
  if (root->kind != CB_JV_OBJ) return bad(f, "the header is not a JSON object", NULL, NULL);
  size_t data_len = f->len - data_start;
  f->t = calloc((size_t)root->n + 1, sizeof *f->t);
  span *sp = calloc((size_t)root->n + 1, sizeof *sp);
  if (!f->t || !sp) {
    free(sp);
    return cb_error("%s: out of memory reading the header", f->what);
  }
  int rc = 0, seen_meta = 0;
  for (int k = 0; k < root->n && !rc; k++) {
    const char *name = root->keys[k];
    if (strcmp(name, "__metadata__") == 0) {
      rc = seen_meta++ ? bad(f, "__metadata__ appears twice", NULL, NULL)
                       : parse_metadata(f, &root->items[k]);
      continue;
    }
    if (!name[0]) {
      rc = bad(f, "a tensor has an empty name", NULL, NULL);
      break;
    }
    for (int j = 0; j < f->n && !rc; j++)
      if (strcmp(f->t[j].name, name) == 0) rc = bad(f, "tensor '%s' appears twice", name, NULL);
    if (rc) break;
    cb_st_tensor *t = &f->t[f->n];
    span *s = &sp[f->n];
    rc = tensor_info(f, name, &root->items[k], t, &s->begin, &s->end);
    if (rc) break;
    t->name = cb_strdup(name);
    if (!t->name) {
      rc = -1;
      break;
    }
    s->idx = f->n++;
  }
  /* The tensors must tile [0, data_len) exactly. */
  if (!rc) qsort(sp, (size_t)f->n, sizeof *sp, by_begin);
  int64_t at = 0;
  for (int k = 0; k < f->n && !rc; k++) {
    const char *name = f->t[sp[k].idx].name;
    if (sp[k].begin != at)
      rc = bad(f,
               sp[k].begin < at ? "tensor '%s' overlaps another tensor's bytes"
                                : "a gap in the data before tensor '%s'",
               name, NULL);
    else if ((uint64_t)sp[k].end > (uint64_t)data_len)
      rc = bad(f, "tensor '%s' runs past the end of the file (truncated?)", name, NULL);
    else
      f->t[sp[k].idx].data = f->buf + data_start + sp[k].begin;
    at = sp[k].end;
  }
  if (!rc && (uint64_t)at != (uint64_t)data_len)
    rc = bad(f, "bytes after the last tensor are not described by the header", NULL, NULL);
  free(sp);
  return rc;
}

static void clear(cb_st_file *f) {
  for (int k = 0; k < f->n; k++)
    free(f->t[k].name);
  free(f->t);
  free(f->buf);
  cb_meta_free(&f->meta);
  f->t = NULL;
  f->buf = NULL;
  f->n = 0;
  f->len = 0;
}

int cb_st_parse(unsigned char *buf, size_t len, const char *what, cb_st_file *f) {
  memset(f, 0, sizeof *f);
  snprintf(f->what, sizeof f->what, "%s", what ? what : "safetensors");
  f->buf = buf;
  f->len = len;
  if (!little_endian()) {
    clear(f);
    return cb_error("%s: safetensors needs a little-endian host", f->what);
  }
  if (len < 8) {
    clear(f);
    return cb_error("%s: not a safetensors file (%zu bytes, shorter than the 8-byte header "
                    "length)",
                    f->what, len);
  }
  uint64_t hl = 0;
  for (int b = 0; b < 8; b++)
    hl |= (uint64_t)buf[b] << (8 * b);
  if (hl > CB_ST_MAX_HEADER) {
    clear(f);
    return cb_error("%s: header length %llu is over the %d-byte limit (corrupt, or not a "
                    "safetensors file)",
                    f->what, (unsigned long long)hl, CB_ST_MAX_HEADER);
  }
  if (hl > len - 8) {
    clear(f);
    return cb_error("%s: header length %llu runs past the end of the file (%zu bytes): "
                    "truncated?",
                    f->what, (unsigned long long)hl, len);
  }
  if (hl == 0 || buf[8] != '{') {
    clear(f);
    return cb_error("%s: the header does not start with '{' (not a safetensors file)", f->what);
  }
  char what_hdr[600];
  snprintf(what_hdr, sizeof what_hdr, "%s: header JSON", f->what);
  cb_jv root;
  int rc = cb_jv_parse((const char *)buf + 8, (size_t)hl, what_hdr, &root);
  if (!rc) rc = parse_header(f, &root, 8 + (size_t)hl);
  cb_jv_free(&root);
  if (rc) clear(f);
  return rc;
}

int cb_st_read(const char *path, cb_st_file *f) {
  memset(f, 0, sizeof *f);
  FILE *fp = fopen(path, "rb");
  if (!fp) return cb_error("cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(fp);
    return cb_error("%s is not a regular file", path);
  }
  size_t len = (size_t)st.st_size;
  unsigned char *buf = malloc(len ? len : 1);
  if (!buf) {
    fclose(fp);
    return cb_error("out of memory reading %s (%zu bytes)", path, len);
  }
  size_t got = len ? fread(buf, 1, len, fp) : 0;
  int err = ferror(fp) ? errno : 0;
  fclose(fp);
  if (got != len) {
    free(buf);
    return cb_error("reading %s failed: %s", path, err ? strerror(err) : "file shrank");
  }
  return cb_st_parse(buf, len, path, f);
}

void cb_st_close(cb_st_file *f) {
  clear(f);
}

const cb_st_tensor *cb_st_find(const cb_st_file *f, const char *name) {
  for (int k = 0; k < f->n; k++)
    if (strcmp(f->t[k].name, name) == 0) return &f->t[k];
  return NULL;
}

static void shape_str(char *s, size_t cap, int ndim, const int64_t *shape) {
  size_t o = (size_t)snprintf(s, cap, "[");
  for (int d = 0; d < ndim && o < cap; d++)
    o += (size_t)snprintf(s + o, cap - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (o < cap) snprintf(s + o, cap - o, "]");
}

int cb_st_get_f32(const cb_st_file *f, const char *name, int ndim, const int64_t *shape,
                  float *dst) {
  const cb_st_tensor *t = cb_st_find(f, name);
  if (!t) return cb_error("%s: no tensor '%s'", f->what, name);
  int same = t->ndim == ndim;
  for (int d = 0; same && d < ndim; d++)
    same = t->shape[d] == shape[d];
  if (!same) {
    char a[160], b[160];
    shape_str(a, sizeof a, t->ndim, t->shape);
    shape_str(b, sizeof b, ndim, shape);
    return cb_error("%s: tensor '%s' has shape %s, expected %s", f->what, name, a, b);
  }
  if (t->dtype == CB_ST_F32) {
    if (t->nbytes) memcpy(dst, t->data, t->nbytes);
  } else if (t->dtype == CB_ST_F64) {
    for (int64_t j = 0; j < t->numel; j++) {
      double v;
      memcpy(&v, t->data + 8 * j, 8);
      dst[j] = (float)v;
    }
  } else {
    return cb_error("%s: tensor '%s' has dtype %s, expected F32 or F64", f->what, name,
                    DTYPE_NAMES[t->dtype]);
  }
  return 0;
}
