/* .npy reader and writer. Format: "\x93NUMPY", major, minor, header length
 * (uint16 LE for 1.x, uint32 LE for 2.x/3.x), a Python dict literal padded
 * with spaces and ended by '\n', then the raw array. */
#include "core/data/npy.h"

#include "core/base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
  cb_npy_dtype t;
  char kind;
  size_t size;
  const char *name;
} DTYPES[] = {
    {CB_NPY_BOOL, 'b', 1, "bool"},   {CB_NPY_U8, 'u', 1, "uint8"},
    {CB_NPY_I8, 'i', 1, "int8"},     {CB_NPY_U16, 'u', 2, "uint16"},
    {CB_NPY_I16, 'i', 2, "int16"},   {CB_NPY_U32, 'u', 4, "uint32"},
    {CB_NPY_I32, 'i', 4, "int32"},   {CB_NPY_U64, 'u', 8, "uint64"},
    {CB_NPY_I64, 'i', 8, "int64"},   {CB_NPY_F32, 'f', 4, "float32"},
    {CB_NPY_F64, 'f', 8, "float64"},
};
enum { N_DTYPES = (int)(sizeof DTYPES / sizeof DTYPES[0]) };

const char *cb_npy_dtype_name(cb_npy_dtype t) {
  for (int i = 0; i < N_DTYPES; i++)
    if (DTYPES[i].t == t) return DTYPES[i].name;
  return "?";
}

static size_t dtype_size(cb_npy_dtype t) {
  for (int i = 0; i < N_DTYPES; i++)
    if (DTYPES[i].t == t) return DTYPES[i].size;
  return 0;
}

static int host_little(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

/* ---- header dictionary parser ---- */

typedef struct {
  const char *p, *start, *end, *name;
} lexer;

static void skip_ws(lexer *l) {
  while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
    l->p++;
}

static int expect(lexer *l, char c) {
  skip_ws(l);
  if (l->p >= l->end || *l->p != c)
    return cb_error("%s: corrupt .npy header: expected '%c' at header offset %ld", l->name, c,
                    (long)(l->p - l->start));
  l->p++;
  return 0;
}

static int parse_string(lexer *l, char *dst, size_t cap) {
  skip_ws(l);
  if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
    return cb_error("%s: corrupt .npy header: expected a quoted string", l->name);
  char q = *l->p++;
  size_t n = 0;
  while (l->p < l->end && *l->p != q) {
    if (n + 1 >= cap) return cb_error("%s: corrupt .npy header: string too long", l->name);
    dst[n++] = *l->p++;
  }
  if (l->p >= l->end) return cb_error("%s: corrupt .npy header: unterminated string", l->name);
  l->p++;
  dst[n] = 0;
  return 0;
}

static int parse_shape(lexer *l, cb_npy *a) {
  if (expect(l, '(')) return -1;
  a->ndim = 0;
  for (;;) {
    skip_ws(l);
    if (l->p < l->end && *l->p == ')') {
      l->p++;
      return 0;
    }
    if (a->ndim >= CB_NPY_MAX_DIMS)
      return cb_error("%s: array has more than %d dimensions", l->name, CB_NPY_MAX_DIMS);
    if (l->p >= l->end || *l->p < '0' || *l->p > '9')
      return cb_error("%s: corrupt .npy header: bad shape entry", l->name);
    int64_t v = 0;
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
      if (v > (INT64_MAX - 9) / 10)
        return cb_error("%s: corrupt .npy header: dimension overflows", l->name);
      v = v * 10 + (*l->p++ - '0');
    }
    if (l->p < l->end && *l->p == 'L') l->p++; /* Python 2 long */
    a->shape[a->ndim++] = v;
    skip_ws(l);
    if (l->p < l->end && *l->p == ',') {
      l->p++;
      continue;
    }
    if (l->p < l->end && *l->p == ')') {
      l->p++;
      return 0;
    }
    return cb_error("%s: corrupt .npy header: expected ',' or ')' in shape", l->name);
  }
}

static int parse_descr(const char *descr, const char *name, cb_npy_dtype *t, int *swap) {
  const char *s = descr;
  char order = '=';
  if (*s == '<' || *s == '>' || *s == '|' || *s == '=') order = *s++;
  if (!*s) return cb_error("%s: corrupt .npy header: empty dtype '%s'", name, descr);
  char kind = *s++;
  if (kind == '?') {
    *t = CB_NPY_BOOL;
    *swap = 0;
    return 0;
  }
  char *endp;
  long size = strtol(s, &endp, 10);
  if (endp == s || *endp)
    return cb_error("%s: unsupported dtype '%s' (need float32/float64 or an integer type)", name,
                    descr);
  for (int i = 0; i < N_DTYPES; i++)
    if (DTYPES[i].kind == kind && DTYPES[i].size == (size_t)size) {
      *t = DTYPES[i].t;
      int big = order == '>' || (order == '=' && !host_little());
      *swap = size > 1 && (big == host_little());
      return 0;
    }
  return cb_error("%s: unsupported dtype '%c%ld' (supported: float32, float64, bool, "
                  "(u)int8/16/32/64; convert with numpy .astype('float32'))",
                  name, kind, size);
}

static void swap_bytes(uint8_t *p, int64_t count, size_t size) {
  for (int64_t i = 0; i < count; i++, p += size)
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
      uint8_t t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}

/* Fortran (column-major) -> C (row-major) for any rank. */
static int fortran_to_c(cb_npy *a, const char *name) {
  if (a->ndim < 2) return 0;
  uint8_t *dst = malloc((size_t)a->count * a->itemsize);
  if (!dst) return cb_error("%s: out of memory transposing a Fortran-order array", name);
  int64_t idx[CB_NPY_MAX_DIMS] = {0};
  const uint8_t *src = a->data;
  /* Walk destination (C order) indices; compute the Fortran offset. */
  for (int64_t c = 0; c < a->count; c++) {
    int64_t f = 0, stride = 1;
    for (int d = 0; d < a->ndim; d++) {
      f += idx[d] * stride;
      stride *= a->shape[d];
    }
    memcpy(dst + (size_t)c * a->itemsize, src + (size_t)f * a->itemsize, a->itemsize);
    for (int d = a->ndim - 1; d >= 0; d--) {
      if (++idx[d] < a->shape[d]) break;
      idx[d] = 0;
    }
  }
  free(a->data);
  a->data = dst;
  return 0;
}

int cb_npy_parse(const uint8_t *buf, size_t len, const char *name, cb_npy *out) {
  memset(out, 0, sizeof *out);
  static const uint8_t MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (len < 10 || memcmp(buf, MAGIC, 6) != 0)
    return cb_error("%s: not a .npy file (no \\x93NUMPY magic%s)", name,
                    len < 10 ? "; file shorter than 10 bytes" : "");
  int major = buf[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return cb_error("%s: truncated .npy header", name);
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    hstart = 12;
  } else {
    return cb_error("%s: unsupported .npy format version %d.%d", name, major, buf[7]);
  }
  if (hlen > len - hstart)
    return cb_error("%s: truncated .npy file: header says %zu header bytes, file has %zu", name,
                    hlen, len - hstart);
  lexer l = {(const char *)buf + hstart, (const char *)buf + hstart,
             (const char *)buf + hstart + hlen, name};
  int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, swap = 0;
  if (expect(&l, '{')) return -1;
  for (;;) {
    skip_ws(&l);
    if (l.p < l.end && *l.p == '}') {
      l.p++;
      break;
    }
    char key[32];
    if (parse_string(&l, key, sizeof key) || expect(&l, ':')) return -1;
    if (strcmp(key, "descr") == 0) {
      skip_ws(&l);
      if (l.p < l.end && *l.p == '[')
        return cb_error("%s: structured (record) arrays are not supported; save a plain array",
                        name);
      char d[32];
      if (parse_string(&l, d, sizeof d) || parse_descr(d, name, &out->dtype, &swap)) return -1;
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      skip_ws(&l);
      if ((size_t)(l.end - l.p) >= 4 && memcmp(l.p, "True", 4) == 0) {
        fortran = 1;
        l.p += 4;
      } else if ((size_t)(l.end - l.p) >= 5 && memcmp(l.p, "False", 5) == 0) {
        fortran = 0;
        l.p += 5;
      } else {
        return cb_error("%s: corrupt .npy header: fortran_order must be True or False", name);
      }
      have_fortran = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (parse_shape(&l, out)) return -1;
      have_shape = 1;
    } else {
      return cb_error("%s: corrupt .npy header: unknown key '%s'", name, key);
    }
    skip_ws(&l);
    if (l.p < l.end && *l.p == ',') l.p++;
  }
  if (!have_descr || !have_fortran || !have_shape)
    return cb_error("%s: corrupt .npy header: missing '%s'", name,
                    !have_descr     ? "descr"
                    : !have_fortran ? "fortran_order"
                                    : "shape");
  out->itemsize = dtype_size(out->dtype);
  out->was_fortran = fortran;
  int64_t count = 1;
  for (int d = 0; d < out->ndim; d++) {
    if (out->shape[d] != 0 && count > INT64_MAX / out->shape[d])
      return cb_error("%s: corrupt .npy header: shape too large", name);
    count *= out->shape[d];
  }
  out->count = count;
  size_t data_start = hstart + hlen, have = len - data_start;
  if ((uint64_t)count > (uint64_t)SIZE_MAX / out->itemsize)
    return cb_error("%s: corrupt .npy header: shape too large", name);
  size_t need = (size_t)count * out->itemsize;
  if (have < need)
    return cb_error("%s: truncated .npy file: the header describes %zu bytes of %s data but only "
                    "%zu follow",
                    name, need, cb_npy_dtype_name(out->dtype), have);
  if (have > need)
    return cb_error("%s: corrupt .npy file: %zu unexpected bytes after the %zu bytes of data", name,
                    have - need, need);
  out->data = malloc(need ? need : 1);
  if (!out->data) return cb_error("%s: out of memory (%zu bytes)", name, need);
  memcpy(out->data, buf + data_start, need);
  if (swap) swap_bytes(out->data, count, out->itemsize);
  if (fortran && fortran_to_c(out, name)) {
    cb_npy_free(out);
    return -1;
  }
  return 0;
}

int cb_npy_read(const char *path, cb_npy *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return cb_error("%s: cannot open: %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return cb_error("%s: cannot seek: %s", path, strerror(errno));
  }
  long len = ftell(f);
  rewind(f);
  if (len < 0) {
    fclose(f);
    return cb_error("%s: cannot determine the file size", path);
  }
  uint8_t *buf = malloc((size_t)len + 1);
  if (!buf) {
    fclose(f);
    return cb_error("%s: out of memory reading %ld bytes", path, len);
  }
  size_t got = fread(buf, 1, (size_t)len, f);
  fclose(f);
  if (got != (size_t)len) {
    free(buf);
    return cb_error("%s: read error", path);
  }
  int rc = cb_npy_parse(buf, (size_t)len, path, out);
  free(buf);
  return rc;
}

void cb_npy_free(cb_npy *a) {
  free(a->data);
  a->data = NULL;
}

double cb_npy_get(const cb_npy *a, int64_t i) {
  const uint8_t *p = (const uint8_t *)a->data + (size_t)i * a->itemsize;
  switch (a->dtype) {
  case CB_NPY_BOOL: return *p ? 1.0 : 0.0;
  case CB_NPY_U8: return *p;
  case CB_NPY_I8: return *(const int8_t *)p;
  case CB_NPY_U16: return *(const uint16_t *)(const void *)p;
  case CB_NPY_I16: return *(const int16_t *)(const void *)p;
  case CB_NPY_U32: return *(const uint32_t *)(const void *)p;
  case CB_NPY_I32: return *(const int32_t *)(const void *)p;
  case CB_NPY_U64: return (double)*(const uint64_t *)(const void *)p;
  case CB_NPY_I64: return (double)*(const int64_t *)(const void *)p;
  case CB_NPY_F32: return *(const float *)(const void *)p;
  case CB_NPY_F64: return *(const double *)(const void *)p;
  }
  return 0.0;
}

static int write_file(const char *path, cb_npy_dtype dtype, int ndim, const int64_t *shape,
                      const void *data, int fortran) {
  const char *descr = dtype == CB_NPY_F32   ? "<f4"
                      : dtype == CB_NPY_U8  ? "|u1"
                      : dtype == CB_NPY_F64 ? "<f8"
                                            : NULL;
  if (!descr)
    return cb_error("%s: internal: cannot write dtype %s", path, cb_npy_dtype_name(dtype));
  if (!host_little())
    return cb_error("%s: writing .npy on a big-endian host is not supported", path);
  if (ndim < 1 || ndim > CB_NPY_MAX_DIMS) return cb_error("%s: internal: bad rank %d", path, ndim);
  char shp[256];
  size_t o = 0;
  int64_t count = 1;
  for (int d = 0; d < ndim; d++) {
    o += (size_t)snprintf(shp + o, sizeof shp - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    count *= shape[d];
  }
  if (ndim == 1) o += (size_t)snprintf(shp + o, sizeof shp - o, ",");
  char hdr[512];
  int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr,
                    fortran ? "True" : "False", shp);
  /* Pad so that magic + header is a multiple of 64 bytes, ending in '\n'. */
  size_t total = 10 + (size_t)hl + 1;
  size_t padded = (total + 63) / 64 * 64;
  size_t hlen = padded - 10;
  memset(hdr + hl, ' ', hlen - (size_t)hl - 1);
  hdr[hlen - 1] = '\n';
  uint8_t pre[10] = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};
  size_t isz = dtype_size(dtype);
  const uint8_t *src = data;
  uint8_t *tbuf = NULL;
  if (fortran && ndim >= 2) {
    /* C -> Fortran: dst[f] = src[c]. */
    tbuf = malloc((size_t)count * isz);
    if (!tbuf) return cb_error("%s: out of memory", path);
    int64_t idx[CB_NPY_MAX_DIMS] = {0};
    for (int64_t c = 0; c < count; c++) {
      int64_t f = 0, stride = 1;
      for (int d = 0; d < ndim; d++) {
        f += idx[d] * stride;
        stride *= shape[d];
      }
      memcpy(tbuf + (size_t)f * isz, src + (size_t)c * isz, isz);
      for (int d = ndim - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    src = tbuf;
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    free(tbuf);
    return cb_error("%s: cannot create: %s", tmp, strerror(errno));
  }
  errno = 0;
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, hlen, f) == hlen &&
           fwrite(src, isz, (size_t)count, f) == (size_t)count;
  int err = errno;
  ok = (fclose(f) == 0) && ok;
  if (!err) err = errno;
  free(tbuf);
  if (!ok) {
    remove(tmp);
    return err ? cb_io_error(err, "%s: write failed", path) : cb_error("%s: write failed", path);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return cb_error("%s: cannot rename the temporary file into place: %s", path, strerror(e));
  }
  return 0;
}

int cb_npy_write(const char *path, cb_npy_dtype dtype, int ndim, const int64_t *shape,
                 const void *data) {
  return write_file(path, dtype, ndim, shape, data, 0);
}

int cb_npy_write_fortran(const char *path, cb_npy_dtype dtype, int ndim, const int64_t *shape,
                         const void *data) {
  return write_file(path, dtype, ndim, shape, data, 1);
}
