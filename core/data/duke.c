/* Duke DME (Chiu et al. 2015) importer: Subject_XX.mat -> NPY folder.
 *
 * A file holds `images` (496 x 768 x 61, MATLAB column-major), boundary rows
 * `manualLayers1/2` (8 x 768 x 61, NaN where not annotated) and fluid maps
 * `manualFluid1/2` (496 x 768 x 61, > 0 = fluid). Only the B-scans whose
 * layers are annotated are kept (11 per subject), each cropped to its
 * annotated columns. Variables are read one slice at a time with libmatio,
 * so memory stays at a few B-scans whatever the element type. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/npy_folder.h"
#include "core/data/resize.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const BOUNDARY_NAMES[8] = {"ILM",     "NFL/GCL", "IPL/INL", "INL/OPL",
                                              "OPL/ONL", "ISM/ISE", "ISE/OS",  "RPE/choroid"};

/* matio reports problems through a log hook; keep the last message so our
 * one-line error can say what matio saw instead of matio printing it. */
static _Thread_local char g_matio_msg[256];

static void matio_log(int level, char *msg) {
  (void)level;
  snprintf(g_matio_msg, sizeof g_matio_msg, "%s", msg ? msg : "");
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static size_t class_size(enum matio_classes c) {
  switch (c) {
  case MAT_C_DOUBLE:
  case MAT_C_INT64:
  case MAT_C_UINT64: return 8;
  case MAT_C_SINGLE:
  case MAT_C_INT32:
  case MAT_C_UINT32: return 4;
  case MAT_C_INT16:
  case MAT_C_UINT16: return 2;
  case MAT_C_INT8:
  case MAT_C_UINT8: return 1;
  default: return 0;
  }
}

static double elem(const void *buf, enum matio_classes c, size_t i) {
  switch (c) {
  case MAT_C_DOUBLE: return ((const double *)buf)[i];
  case MAT_C_SINGLE: return ((const float *)buf)[i];
  case MAT_C_INT8: return ((const int8_t *)buf)[i];
  case MAT_C_UINT8: return ((const uint8_t *)buf)[i];
  case MAT_C_INT16: return ((const int16_t *)buf)[i];
  case MAT_C_UINT16: return ((const uint16_t *)buf)[i];
  case MAT_C_INT32: return ((const int32_t *)buf)[i];
  case MAT_C_UINT32: return ((const uint32_t *)buf)[i];
  case MAT_C_INT64: return (double)((const int64_t *)buf)[i];
  case MAT_C_UINT64: return (double)((const uint64_t *)buf)[i];
  default: return NAN;
  }
}

/* A MAT v5 file is a 128-byte header and a sequence of data elements, each an
 * 8-byte tag (type, byte count) and its bytes. libmatio reads a variable's
 * header without checking that its data is all there, and Mat_VarReadData
 * succeeds on a file cut short (leaving the buffer as it was), so a truncated
 * download would import with made-up values. Every element must fit in the
 * file. Other versions (v7.3 is HDF5, which checks itself) are left to
 * libmatio. */
static int check_mat5_complete(const char *path, long long file_bytes) {
  FILE *f = fopen(path, "rb");
  if (!f) return cb_error("%s: cannot open: %s", path, strerror(errno));
  unsigned char h[128];
  int rc = 0;
  if (fread(h, 1, sizeof h, f) == sizeof h &&
      ((h[126] == 'I' && h[127] == 'M') || (h[126] == 'M' && h[127] == 'I'))) {
    int little = h[126] == 'I';
    unsigned version = little ? h[124] | h[125] << 8 : h[125] | h[124] << 8;
    long long at = 128;
    for (int k = 1; version == 0x0100 && at < file_bytes; k++) {
      unsigned char t[8];
      if (fread(t, 1, 8, f) != 8) {
        rc = cb_error("%s: truncated: the file ends inside element %d at byte %lld (download or "
                      "copy it again)",
                      path, k, at);
        break;
      }
      uint32_t type =
          little
              ? (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24
              : (uint32_t)t[3] | (uint32_t)t[2] << 8 | (uint32_t)t[1] << 16 | (uint32_t)t[0] << 24;
      uint32_t nbytes =
          little
              ? (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24
              : (uint32_t)t[7] | (uint32_t)t[6] << 8 | (uint32_t)t[5] << 16 | (uint32_t)t[4] << 24;
      long long len = 8;
      if (type >> 16 == 0) { /* not a small element (data inside its tag) */
        if ((long long)nbytes > file_bytes - at - 8) {
          rc = cb_error("%s: truncated: element %d at byte %lld declares %u bytes but %lld "
                        "remain (download or copy it again)",
                        path, k, at, nbytes, file_bytes - at - 8);
          break;
        }
        /* Compressed elements (type 15) are not padded to 8 bytes. */
        len += type == 15 ? nbytes : (nbytes + 7) / 8 * 8;
      }
      at += len;
      if (at < file_bytes && fseek(f, at, SEEK_SET) != 0) {
        rc = cb_error("%s: cannot seek: %s", path, strerror(errno));
        break;
      }
    }
  }
  fclose(f);
  return rc;
}

/* The variable's header, checked to be a real numeric array of rank 2 or 3;
 * dims[2] is 1 for rank 2 (a single B-scan). */
static matvar_t *var_info(mat_t *mat, const char *path, long long file_bytes, const char *name,
                          size_t dims[3]) {
  g_matio_msg[0] = 0;
  matvar_t *v = Mat_VarReadInfo(mat, name);
  if (!v) {
    if (g_matio_msg[0])
      cb_error("%s: cannot read variable '%s' (file truncated or corrupt? matio: %s)", path, name,
               g_matio_msg);
    else
      cb_error("%s: no variable '%s' (a Duke Subject_XX.mat holds images, manualLayers1/2 and "
               "manualFluid1/2)",
               path, name);
    return NULL;
  }
  if (v->isComplex || class_size(v->class_type) == 0 || (v->rank != 2 && v->rank != 3)) {
    cb_error("%s: variable '%s' is not a real numeric array of rank 2 or 3", path, name);
    Mat_VarFree(v);
    return NULL;
  }
  dims[0] = v->dims[0];
  dims[1] = v->dims[1];
  dims[2] = v->rank == 3 ? v->dims[2] : 1;
  /* A file holds at most one element per byte stored plainly, about 1032 per
   * byte through zlib (its largest ratio). Dimensions beyond that come from
   * a corrupt header; refusing them keeps us (and libmatio's reads) from
   * allocating what the header claims. */
  size_t count = 1, cap = (size_t)file_bytes * (v->compression == MAT_COMPRESSION_NONE ? 1 : 1032);
  int over = 0;
  for (int d = 0; d < 3; d++) {
    if (dims[d] && count > SIZE_MAX / dims[d]) over = 1;
    count *= dims[d];
  }
  if (over || count > cap) {
    cb_error("%s: variable '%s' is %zux%zux%zu, more than the file's %lld bytes can hold (file "
             "truncated or corrupt?)",
             path, name, dims[0], dims[1], dims[2], file_bytes);
    Mat_VarFree(v);
    return NULL;
  }
  return v;
}

/* Reads slice s (all of dims 0 and 1) of a rank-3 variable as doubles,
 * column-major (element (i, j) at i + dims0 * j). */
static int read_slice(mat_t *mat, matvar_t *v, const char *path, const size_t dims[3], int s,
                      double *out) {
  size_t n = dims[0] * dims[1], es = class_size(v->class_type);
  void *buf = calloc(n, es); /* zeros, not leftovers, should libmatio read short */
  if (!buf) return cb_error("%s: out of memory reading '%s'", path, v->name);
  int start[3] = {0, 0, s}, stride[3] = {1, 1, 1}, edge[3] = {(int)dims[0], (int)dims[1], 1};
  g_matio_msg[0] = 0;
  int rc = Mat_VarReadData(mat, v, buf, start, stride, edge);
  if (rc != 0) {
    free(buf);
    return cb_error("%s: cannot read B-scan %d of '%s' (file truncated or corrupt?%s%s)", path, s,
                    v->name, g_matio_msg[0] ? " matio: " : "", g_matio_msg);
  }
  for (size_t i = 0; i < n; i++)
    out[i] = elem(buf, v->class_type, i);
  free(buf);
  return 0;
}

/* Fills NaN gaps of one boundary over columns x0..x1: linear between the
 * nearest annotated columns, the nearest annotated value beyond the ends. */
static int fill_boundary(double *b, int x0, int x1) {
  int first = -1, last = -1;
  for (int x = x0; x <= x1; x++)
    if (!isnan(b[x])) {
      if (first < 0) first = x;
      last = x;
    }
  if (first < 0) return -1;
  for (int x = x0; x < first; x++)
    b[x] = b[first];
  for (int x = last + 1; x <= x1; x++)
    b[x] = b[last];
  int prev = first;
  for (int x = first + 1; x <= last; x++) {
    if (isnan(b[x])) continue;
    for (int g = prev + 1; g < x; g++)
      b[g] = b[prev] + (b[x] - b[prev]) * (double)(g - prev) / (double)(x - prev);
    prev = x;
  }
  return 0;
}

static int subject_from_name(const char *path, int fallback) {
  const char *b = base_name(path);
  if (strncmp(b, "Subject_", 8) == 0 && isdigit((unsigned char)b[8])) return atoi(b + 8);
  return fallback;
}

void cb_duke_scans_free(cb_duke_scan *scans, int n) {
  for (int i = 0; scans && i < n; i++) {
    free(scans[i].image);
    free(scans[i].mask);
  }
  free(scans);
}

/* Builds scan `out` from slice s given its boundary rows (8 x Wi column-major
 * for the slice) and image / fluid (Hi x Wi column-major). */
static int build_scan(const char *path, const cb_duke_opts *o, int s, int Hi, int Wi, double *lay,
                      const double *img, const double *fluid, cb_duke_scan *out) {
  double *b[8];
  int x0 = -1, x1 = -1, rc = 0;
  double *rows = malloc((size_t)8 * Wi * sizeof *rows);
  if (!rows) return cb_error("%s: out of memory", path);
  for (int k = 0; k < 8; k++) {
    b[k] = rows + (size_t)k * Wi;
    for (int x = 0; x < Wi; x++) {
      double v = lay[k + 8 * (size_t)x];
      /* Rows are 1-based: NaN and 0 mean "not annotated"; anything else
       * must be a row of the image, or the mask would be made up. */
      if (!isnan(v) && v != 0.0 && !(v > 0.0 && v <= (double)Hi)) {
        free(rows);
        return cb_error("%s: B-scan %d: boundary %d (%s) at column %d is row %g, outside the "
                        "image's rows 1..%d (a damaged or mismatched annotation; check the file)",
                        path, s, k + 1, BOUNDARY_NAMES[k], x + 1, v, Hi);
      }
      b[k][x] = v > 0.0 ? v : NAN;
      if (!isnan(b[k][x])) {
        if (x0 < 0) x0 = x;
        x1 = x;
      }
    }
  }
  for (int k = 0; k < 8 && !rc; k++)
    if (fill_boundary(b[k], x0, x1))
      rc = cb_error("%s: B-scan %d: boundary %d (%s) has no annotated column while others do; "
                    "cannot build its layers",
                    path, s, k + 1, BOUNDARY_NAMES[k]);
  if (rc) {
    free(rows);
    return rc;
  }
  for (int x = x0; x <= x1; x++)
    for (int k = 1; k < 8; k++)
      if (b[k][x] < b[k - 1][x]) b[k][x] = b[k - 1][x];
  int Wc = x1 - x0 + 1;
  float *cimg = malloc((size_t)Hi * Wc * sizeof *cimg);
  uint8_t *cmask = malloc((size_t)Hi * Wc);
  if (!cimg || !cmask) {
    free(rows);
    free(cimg);
    free(cmask);
    return cb_error("%s: out of memory", path);
  }
  const int fluid_class = o->classes == 10 ? 9 : 8;
  for (int y = 0; y < Hi; y++)
    for (int x = x0; x <= x1; x++) {
      size_t src = (size_t)y + (size_t)Hi * x, dst = (size_t)y * Wc + (x - x0);
      int label = 0;
      while (label < 8 && (double)y >= b[label][x])
        label++;
      if (o->classes != 10 && label == 8) label = 0;
      double f = fluid[src];
      if (isfinite(f) && f > 0.0) label = fluid_class;
      cmask[dst] = (uint8_t)label;
      cimg[dst] = (float)img[src];
    }
  free(rows);
  out->slice = s;
  out->x0 = x0;
  out->x1 = x1;
  if (o->H > 0) {
    out->H = o->H;
    out->W = o->W;
    out->image = malloc((size_t)o->H * o->W * sizeof(float));
    out->mask = malloc((size_t)o->H * o->W);
    if (!out->image || !out->mask || cb_resize_bilinear(cimg, Hi, Wc, out->image, o->H, o->W)) {
      free(cimg);
      free(cmask);
      return cb_error("%s: out of memory resizing", path);
    }
    cb_resize_nearest(cmask, Hi, Wc, out->mask, o->H, o->W);
    free(cimg);
    free(cmask);
  } else {
    out->H = Hi;
    out->W = Wc;
    out->image = cimg;
    out->mask = cmask;
  }
  return 0;
}

static int check_opts(const cb_duke_opts *o) {
  if (o->classes != 9 && o->classes != 10)
    return cb_error("--classes %d: Duke masks have 9 (backgrounds merged) or 10 classes",
                    o->classes);
  if (o->expert != 1 && o->expert != 2)
    return cb_error("--expert %d: the Duke files have experts 1 and 2", o->expert);
  if ((o->H > 0) != (o->W > 0) || o->H < 0 || o->W < 0 || o->H > 8192 || o->W > 8192)
    return cb_error("--size %d %d: give a height and width of 1..8192, or 0 to keep the cropped "
                    "size",
                    o->H, o->W);
  return 0;
}

int cb_duke_read_file(const char *path, const cb_duke_opts *o, int fallback_subject,
                      cb_duke_scan **scans, int *n) {
  *scans = NULL;
  *n = 0;
  if (check_opts(o)) return -1;
  FILE *f = fopen(path, "rb");
  if (!f) return cb_error("%s: cannot open: %s", path, strerror(errno));
  long long file_bytes = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  fclose(f);
  if (file_bytes < 0) return cb_error("%s: not a regular file", path);
  if (file_bytes == 0)
    return cb_error("%s: an empty file (0 bytes); download or unpack it again", path);
  if (check_mat5_complete(path, file_bytes)) return -1;
  Mat_LogInitFunc("clipbench", matio_log);
  g_matio_msg[0] = 0;
  mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
  if (!mat)
    return cb_error("%s: not a MATLAB .mat file (v5/v7), or unreadable/truncated%s%s", path,
                    g_matio_msg[0] ? "; matio: " : "", g_matio_msg);
  char lname[32], fname[32];
  snprintf(lname, sizeof lname, "manualLayers%d", o->expert);
  snprintf(fname, sizeof fname, "manualFluid%d", o->expert);
  size_t di[3], dl[3], df[3];
  matvar_t *vi = var_info(mat, path, file_bytes, "images", di);
  matvar_t *vl = vi ? var_info(mat, path, file_bytes, lname, dl) : NULL;
  matvar_t *vf = vl ? var_info(mat, path, file_bytes, fname, df) : NULL;
  int rc = vf ? 0 : -1;
  if (!rc && (dl[0] != 8 || dl[1] != di[1] || dl[2] != di[2]))
    rc = cb_error("%s: '%s' is %zux%zux%zu; expected 8 boundaries x %zu columns x %zu B-scans to "
                  "match 'images' (%zux%zux%zu)",
                  path, lname, dl[0], dl[1], dl[2], di[1], di[2], di[0], di[1], di[2]);
  if (!rc && (df[0] != di[0] || df[1] != di[1] || df[2] != di[2]))
    rc = cb_error("%s: '%s' is %zux%zux%zu but 'images' is %zux%zux%zu; they must match", path,
                  fname, df[0], df[1], df[2], di[0], di[1], di[2]);
  if (!rc && (di[0] < 2 || di[1] < 2 || di[0] > 65535 || di[1] > 65535))
    rc = cb_error("%s: 'images' is %zux%zux%zu; expected rows x columns x B-scans", path, di[0],
                  di[1], di[2]);
  int Hi = rc ? 0 : (int)di[0], Wi = rc ? 0 : (int)di[1], N = rc ? 0 : (int)di[2];
  double *lay = NULL, *img = NULL, *flu = NULL;
  if (!rc) {
    lay = malloc((size_t)8 * Wi * sizeof *lay);
    img = malloc((size_t)Hi * Wi * sizeof *img);
    flu = malloc((size_t)Hi * Wi * sizeof *flu);
    *scans = calloc((size_t)N, sizeof **scans);
    if (!lay || !img || !flu || !*scans) rc = cb_error("%s: out of memory", path);
  }
  int subject = subject_from_name(path, fallback_subject);
  for (int s = 0; s < N && !rc; s++) {
    if (read_slice(mat, vl, path, dl, s, lay)) {
      rc = -1;
      break;
    }
    int annotated = 0;
    for (int i = 0; i < 8 * Wi && !annotated; i++)
      annotated = isfinite(lay[i]) && lay[i] > 0.0;
    if (!annotated) continue;
    if (read_slice(mat, vi, path, di, s, img) || read_slice(mat, vf, path, df, s, flu)) {
      rc = -1;
      break;
    }
    cb_duke_scan *sc = &(*scans)[*n];
    sc->subject = subject;
    if (build_scan(path, o, s, Hi, Wi, lay, img, flu, sc)) {
      rc = -1;
      break;
    }
    (*n)++;
  }
  if (!rc && *n == 0)
    rc = cb_error("%s: '%s' has no annotated B-scan (all NaN); nothing to import", path, lname);
  free(lay);
  free(img);
  free(flu);
  if (vi) Mat_VarFree(vi);
  if (vl) Mat_VarFree(vl);
  if (vf) Mat_VarFree(vf);
  Mat_Close(mat);
  if (rc) {
    cb_duke_scans_free(*scans, *n + 1);
    *scans = NULL;
    *n = 0;
  }
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int cb_duke_import(const char *src_dir, const char *out_dir, const cb_duke_opts *o, FILE *log) {
  if (check_opts(o)) return -1;
  DIR *d = opendir(src_dir);
  if (!d) return cb_error("%s: cannot open folder: %s", src_dir, strerror(errno));
  char **files = NULL;
  int nf = 0, cap = 0, rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) && !rc) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "Subject_", 8) != 0 || len < 5 || strcmp(e->d_name + len - 4, ".mat"))
      continue;
    if (nf == cap) {
      cap = cap ? 2 * cap : 16;
      char **nfiles = realloc(files, (size_t)cap * sizeof *files);
      if (!nfiles) {
        rc = cb_error("out of memory");
        break;
      }
      files = nfiles;
    }
    size_t pl = strlen(src_dir) + len + 2;
    files[nf] = malloc(pl);
    if (!files[nf]) {
      rc = cb_error("out of memory");
      break;
    }
    snprintf(files[nf++], pl, "%s/%s", src_dir, e->d_name);
  }
  closedir(d);
  if (!rc && nf == 0)
    rc = cb_error("%s: no Subject_XX.mat files (unpack the Duke DME archive 2015_BOE_Chiu and "
                  "point at the folder holding Subject_01.mat ... Subject_10.mat)",
                  src_dir);
  if (!rc && nf > 1) qsort(files, (size_t)nf, sizeof *files, cmp_str);
  cb_npyw *w = NULL;
  if (!rc && cb_npyw_begin(&w, out_dir)) rc = -1;
  int total = 0, seen[4096] = {0};
  for (int i = 0; i < nf && !rc; i++) {
    cb_duke_scan *sc;
    int n;
    if (cb_duke_read_file(files[i], o, i + 1, &sc, &n)) {
      rc = -1;
      break;
    }
    int subj = sc[0].subject;
    if (subj >= 0 && subj < 4096 && seen[subj]++)
      rc = cb_error("%s: subject %d appears in two files", files[i], subj);
    for (int k = 0; k < n && !rc; k++) {
      char name[64], extra[256];
      snprintf(name, sizeof name, "Subject_%02d_%02d", sc[k].subject, sc[k].slice);
      snprintf(extra, sizeof extra, "%s\t%d\t%d\t%d", base_name(files[i]), sc[k].slice, sc[k].x0,
               sc[k].x1);
      if (cb_npyw_add(w, name, sc[k].subject, sc[k].image, sc[k].mask, sc[k].H, sc[k].W, extra))
        rc = -1;
    }
    if (!rc && log) {
      fprintf(log, "%s: subject %d, %d annotated B-scans (slices", base_name(files[i]), subj, n);
      for (int k = 0; k < n; k++)
        fprintf(log, "%s%d", k ? "," : " ", sc[k].slice);
      fprintf(log, "), columns %d-%d .. %d-%d\n", sc[0].x0, sc[0].x1, sc[n - 1].x0, sc[n - 1].x1);
    }
    total += n;
    cb_duke_scans_free(sc, n);
  }
  if (!rc) {
    cb_dataset meta;
    memset(&meta, 0, sizeof meta);
    meta.classes = o->classes;
    cb_dataset_set_oct_classes(&meta, o->classes);
    rc = cb_npyw_finish(w, &meta, "source\tslice\tx0\tx1");
    w = NULL;
    if (!rc && log)
      fprintf(log, "wrote %d B-scans of %d subjects to %s (%d classes, expert %d)\n", total, nf,
              out_dir, o->classes, o->expert);
  }
  if (w) cb_npyw_abort(w);
  for (int i = 0; i < nf; i++)
    free(files[i]);
  free(files);
  return rc;
}
