/* safetensors files (checkpoints, weights from PyTorch): cb_st_parse on a
 * copy of the input, then every tensor through cb_st_get_f32.
 *
 * A file that parses describes its tensors truthfully: each one's bytes lie
 * inside the file, numel is the shape product and nbytes = numel x element
 * size, the tensors tile the data, and the metadata map has unique keys.
 * Writing it again (cb_st_write) and reading that back gives the same
 * tensors and metadata. Failures are one line naming the file. */
#include "core/base/error.h"
#include "core/io/safetensors.h"
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz_weights.safetensors"

static void check_file(const cb_st_file *f) {
  size_t total = 0;
  for (int k = 0; k < f->n; k++) {
    const cb_st_tensor *t = &f->t[k];
    CB_FUZZ_CHECK(t->name && t->name[0], "tensor %d has no name", k);
    CB_FUZZ_CHECK(t->dtype >= 0 && t->dtype < CB_ST_NDTYPES, "dtype %d", (int)t->dtype);
    CB_FUZZ_CHECK(t->ndim >= 0 && t->ndim <= CB_ST_MAX_DIMS, "ndim %d", t->ndim);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
      CB_FUZZ_CHECK(t->shape[d] >= 0, "negative dimension");
      numel *= t->shape[d];
    }
    CB_FUZZ_CHECK(numel == t->numel, "numel %lld, shape product %lld", (long long)t->numel,
                  (long long)numel);
    CB_FUZZ_CHECK(t->nbytes == (size_t)numel * cb_st_dtype_size(t->dtype), "nbytes");
    CB_FUZZ_CHECK(t->nbytes == 0 || (t->data >= f->buf && t->data + t->nbytes <= f->buf + f->len),
                  "tensor %s lies outside the file", t->name);
    CB_FUZZ_CHECK(cb_st_find(f, t->name) == t, "tensor name %s not unique", t->name);
    total += t->nbytes;
  }
  for (int k = 0; k < f->meta.n; k++)
    CB_FUZZ_CHECK(cb_meta_get(&f->meta, f->meta.keys[k]) == f->meta.values[k],
                  "metadata key %s not unique", f->meta.keys[k]);
  (void)total;
}

static void get_all(const cb_st_file *f) {
  for (int k = 0; k < f->n; k++) {
    const cb_st_tensor *t = &f->t[k];
    float *dst = malloc((size_t)t->numel * sizeof(float) + 1);
    CB_FUZZ_CHECK(dst != NULL, "out of memory");
    cb_error_clear();
    int rc = cb_st_get_f32(f, t->name, t->ndim, t->shape, dst);
    if (t->dtype == CB_ST_F32 || t->dtype == CB_ST_F64)
      CB_FUZZ_CHECK(rc == 0, "get_f32 of %s failed: %s", t->name, cb_last_error());
    else
      CB_FUZZ_CHECK(rc != 0, "get_f32 of %s (%s) succeeded", t->name, cb_st_dtype_name(t->dtype));
    if (rc) cb_fuzz_check_error("cb_st_get_f32", NAME);
    free(dst);
  }
}

/* Writes f with cb_st_write and checks the copy reads back the same. */
static void rewrite(const cb_st_file *f) {
  cb_st_entry *e = calloc((size_t)f->n + 1, sizeof *e);
  CB_FUZZ_CHECK(e != NULL, "out of memory");
  for (int k = 0; k < f->n; k++) {
    e[k].name = f->t[k].name;
    e[k].dtype = f->t[k].dtype;
    e[k].ndim = f->t[k].ndim;
    memcpy(e[k].shape, f->t[k].shape, sizeof e[k].shape);
    e[k].data = f->t[k].data;
  }
  char path[1024];
  cb_fuzz_path(path, sizeof path, "rewrite.safetensors");
  int rc = cb_st_write(path, e, f->n, &f->meta);
  free(e);
  if (rc) {
    /* The writer may refuse what it would not produce itself (e.g. reserved
     * names); it must say so in one line. */
    cb_fuzz_check_error("cb_st_write", NULL);
    return;
  }
  cb_st_file g;
  CB_FUZZ_CHECK(cb_st_read(path, &g) == 0, "rewritten file does not read: %s", cb_last_error());
  CB_FUZZ_CHECK(g.n == f->n && g.meta.n == f->meta.n, "rewritten file has %d tensors, %d keys", g.n,
                g.meta.n);
  for (int k = 0; k < f->n; k++) {
    const cb_st_tensor *a = &f->t[k], *b = cb_st_find(&g, a->name);
    CB_FUZZ_CHECK(b && b->dtype == a->dtype && b->ndim == a->ndim && b->nbytes == a->nbytes &&
                      memcmp(b->shape, a->shape, sizeof(int64_t) * (size_t)a->ndim) == 0 &&
                      (a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0),
                  "tensor %s differs after rewriting", a->name);
  }
  for (int k = 0; k < f->meta.n; k++) {
    const char *v = cb_meta_get(&g.meta, f->meta.keys[k]);
    CB_FUZZ_CHECK(v && strcmp(v, f->meta.values[k]) == 0, "metadata %s differs after rewriting",
                  f->meta.keys[k]);
  }
  cb_st_close(&g);
}

int cb_fuzz_safetensors(const uint8_t *data, size_t size) {
  unsigned char *buf = malloc(size ? size : 1);
  CB_FUZZ_CHECK(buf != NULL, "out of memory");
  memcpy(buf, data, size);
  cb_st_file f;
  cb_error_clear();
  if (cb_st_parse(buf, size, NAME, &f)) {
    cb_fuzz_check_error("cb_st_parse", NAME);
    cb_st_close(&f);
    return 0;
  }
  cb_fuzz_accepted("cb_st_parse");
  check_file(&f);
  get_all(&f);
  rewrite(&f);
  cb_st_close(&f);
  return 0;
}

CB_FUZZ_ENTRY(safetensors)
