/* NPY folder datasets: images/NAME.npy + masks/NAME.npy (+ subjects.tsv,
 * classes.tsv). Reading checks every pair and names the file at fault;
 * writing goes through a temporary folder renamed at the end. */
#include "core/data/npy_folder.h"

#include "core/base/error.h"
#include "core/data/npy.h"
#include "core/data/resize.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

/* ---- listing ---- */

typedef struct {
  char **v;
  int n, cap;
} names;

static void names_free(names *l) {
  for (int i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int names_push(names *l, const char *s, size_t len) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return cb_error("out of memory listing files");
    l->v = v;
    l->cap = cap;
  }
  char *c = malloc(len + 1);
  if (!c) return cb_error("out of memory listing files");
  memcpy(c, s, len);
  c[len] = 0;
  l->v[l->n++] = c;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Base names (without .npy) of the .npy files in dir, sorted. */
static int list_npy(const char *dir, names *out) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(dir);
  if (!d) return cb_error("%s: cannot open folder: %s", dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || len <= 4 || strcmp(e->d_name + len - 4, ".npy") != 0) continue;
    if (names_push(out, e->d_name, len - 4)) {
      closedir(d);
      names_free(out);
      return -1;
    }
  }
  closedir(d);
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
  return 0;
}

static int find_name(const names *l, const char *s) {
  int lo = 0, hi = l->n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(l->v[mid], s);
    if (c == 0) return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

/* ---- arrays ---- */

/* The H x W plane of a 2-D array, or of a 3-D one with a unit channel axis. */
static int plane_shape(const cb_npy *a, const char *path, const char *what, int *H, int *W) {
  int64_t h, w;
  if (a->ndim == 2) {
    h = a->shape[0];
    w = a->shape[1];
  } else if (a->ndim == 3 && a->shape[0] == 1) {
    h = a->shape[1];
    w = a->shape[2];
  } else if (a->ndim == 3 && a->shape[2] == 1) {
    h = a->shape[0];
    w = a->shape[1];
  } else {
    char s[128];
    size_t o = 0;
    for (int d = 0; d < a->ndim; d++)
      o += (size_t)snprintf(s + o, sizeof s - o, "%s%lld", d ? "x" : "", (long long)a->shape[d]);
    if (!a->ndim) snprintf(s, sizeof s, "a scalar");
    return cb_error("%s: %s has shape %s; expected H x W (or 1 x H x W)", path, what, s);
  }
  if (h < 1 || w < 1 || h > 65535 || w > 65535)
    return cb_error("%s: %s is %lldx%lld; sides must be 1..65535", path, what, (long long)h,
                    (long long)w);
  *H = (int)h;
  *W = (int)w;
  return 0;
}

static int read_image(const char *path, float **img, int *H, int *W) {
  cb_npy a;
  if (cb_npy_read(path, &a)) return -1;
  if (plane_shape(&a, path, "image", H, W)) {
    cb_npy_free(&a);
    return -1;
  }
  size_t n = (size_t)*H * (size_t)*W;
  float *v = malloc(n * sizeof *v);
  if (!v) {
    cb_npy_free(&a);
    return cb_error("%s: out of memory", path);
  }
  for (size_t i = 0; i < n; i++) {
    double x = cb_npy_get(&a, (int64_t)i);
    if (!isfinite(x)) {
      free(v);
      cb_npy_free(&a);
      return cb_error("%s: image value at row %zu, column %zu is %s; images must be finite", path,
                      i / (size_t)*W, i % (size_t)*W, isnan(x) ? "NaN" : "infinite");
    }
    v[i] = (float)x;
  }
  cb_npy_free(&a);
  *img = v;
  return 0;
}

static int read_mask(const char *path, uint8_t **mask, int *H, int *W) {
  cb_npy a;
  if (cb_npy_read(path, &a)) return -1;
  if (plane_shape(&a, path, "mask", H, W)) {
    cb_npy_free(&a);
    return -1;
  }
  size_t n = (size_t)*H * (size_t)*W;
  uint8_t *m = malloc(n);
  if (!m) {
    cb_npy_free(&a);
    return cb_error("%s: out of memory", path);
  }
  for (size_t i = 0; i < n; i++) {
    double x = cb_npy_get(&a, (int64_t)i);
    if (!(x >= 0.0 && x <= 255.0 && x == floor(x))) {
      free(m);
      cb_npy_free(&a);
      return cb_error("%s: mask value %g at row %zu, column %zu is not a class id (integers "
                      "0..255; a mask holds one class id per pixel)",
                      path, x, i / (size_t)*W, i % (size_t)*W);
    }
    m[i] = (uint8_t)x;
  }
  cb_npy_free(&a);
  *mask = m;
  return 0;
}

/* ---- tsv side files ---- */

static char *next_field(char **p) {
  char *s = *p;
  if (!s) return NULL;
  char *t = strchr(s, '\t');
  if (t) {
    *t = 0;
    *p = t + 1;
  } else {
    *p = NULL;
  }
  return s;
}

static int parse_int(const char *s, long lo, long hi, long *v) {
  char *end;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (end == s || *end || errno || x < lo || x > hi) return -1;
  *v = x;
  return 0;
}

static void chomp(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
    s[--n] = 0;
}

/* subjects.tsv: name<TAB>subject[<TAB>...]; a first line starting with
 * "name" is a header. */
static int read_subjects(const char *path, const names *imgs, int *subj) {
  FILE *f = fopen(path, "r");
  if (!f) return 1; /* absent: fine */
  char *seen = calloc((size_t)imgs->n + 1, 1);
  char *line = NULL;
  size_t cap = 0;
  int ln = 0, rc = 0;
  if (!seen) {
    fclose(f);
    return cb_error("out of memory");
  }
  while (getline(&line, &cap, f) > 0) {
    ln++;
    chomp(line);
    if (!line[0] || line[0] == '#') continue;
    char *p = line, *name = next_field(&p), *sub = next_field(&p);
    if (ln == 1 && strcmp(name, "name") == 0) continue;
    long v;
    if (!sub || parse_int(sub, 0, 1000000000L, &v)) {
      rc = cb_error("%s:%d: expected 'name<TAB>subject' with a non-negative integer subject", path,
                    ln);
      break;
    }
    int i = find_name(imgs, name);
    if (i < 0) {
      rc = cb_error("%s:%d: no image named '%s' in images/", path, ln, name);
      break;
    }
    if (seen[i]) {
      rc = cb_error("%s:%d: image '%s' listed twice", path, ln, name);
      break;
    }
    seen[i] = 1;
    subj[i] = (int)v;
  }
  for (int i = 0; !rc && i < imgs->n; i++)
    if (!seen[i])
      rc = cb_error("%s: no subject for image '%s'; list every image", path, imgs->v[i]);
  free(line);
  free(seen);
  fclose(f);
  return rc;
}

/* classes.tsv: id<TAB>name[<TAB>background] with background 0/1. Returns the
 * number of classes (max id + 1), 0 when the file is absent, -1 on error. */
static int read_classes(const char *path, cb_dataset *meta) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0;
  int ln = 0, classes = 0, rc = 0;
  uint64_t bg = 0;
  while (getline(&line, &cap, f) > 0) {
    ln++;
    chomp(line);
    if (!line[0] || line[0] == '#') continue;
    char *p = line, *id = next_field(&p), *name = next_field(&p), *b = next_field(&p);
    if (ln == 1 && strcmp(id, "id") == 0) continue;
    long v, bv = 0;
    if (parse_int(id, 0, CB_DATA_MAX_CLASSES - 1, &v) || !name ||
        (b && b[0] && parse_int(b, 0, 1, &bv))) {
      rc = cb_error("%s:%d: expected 'id<TAB>name[<TAB>background 0|1]' with id 0..%d", path, ln,
                    CB_DATA_MAX_CLASSES - 1);
      break;
    }
    snprintf(meta->class_names[v], CB_DATA_NAME_MAX, "%s", name);
    if (bv) bg |= (uint64_t)1 << v;
    if (v + 1 > classes) classes = (int)v + 1;
  }
  free(line);
  fclose(f);
  if (rc) return -1;
  meta->background = bg ? bg : 1;
  return classes;
}

/* ---- loading ---- */

typedef struct {
  float *img;
  uint8_t *mask;
  int H, W;
} pair;

int cb_npy_folder_load(const char *dir, const cb_npy_folder_opts *opts, cb_dataset *out) {
  memset(out, 0, sizeof *out);
  cb_npy_folder_opts o = {0, 0, 0};
  if (opts) o = *opts;
  char idir[PATH_CAP], mdir[PATH_CAP], path[PATH_CAP];
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return cb_error("%s: no such dataset folder (give 'synthetic' or a folder with images/ and "
                    "masks/)",
                    dir);
  snprintf(idir, sizeof idir, "%s/images", dir);
  snprintf(mdir, sizeof mdir, "%s/masks", dir);
  if (stat(idir, &st) != 0 || stat(mdir, &st) != 0)
    return cb_error("%s: an NPY folder needs images/ and masks/ subfolders of .npy files", dir);
  names imgs, msks;
  if (list_npy(idir, &imgs)) return -1;
  if (list_npy(mdir, &msks)) {
    names_free(&imgs);
    return -1;
  }
  int rc = 0;
  if (imgs.n == 0) rc = cb_error("%s: no .npy files", idir);
  for (int i = 0; !rc && i < imgs.n; i++)
    if (find_name(&msks, imgs.v[i]) < 0)
      rc = cb_error("%s/%s.npy: image without a mask (expected %s/%s.npy)", idir, imgs.v[i], mdir,
                    imgs.v[i]);
  for (int i = 0; !rc && i < msks.n; i++)
    if (find_name(&imgs, msks.v[i]) < 0)
      rc = cb_error("%s/%s.npy: mask without an image (expected %s/%s.npy)", mdir, msks.v[i], idir,
                    msks.v[i]);
  cb_dataset meta;
  memset(&meta, 0, sizeof meta);
  int n = imgs.n;
  int *subj = rc ? NULL : calloc((size_t)n, sizeof *subj);
  pair *pairs = rc ? NULL : calloc((size_t)n, sizeof *pairs);
  if (!rc && (!subj || !pairs)) rc = cb_error("out of memory");
  int subjects_known = 0, file_classes = 0;
  if (!rc) {
    for (int i = 0; i < n; i++)
      subj[i] = i + 1;
    snprintf(path, sizeof path, "%s/subjects.tsv", dir);
    int s = read_subjects(path, &imgs, subj);
    if (s < 0) rc = -1;
    subjects_known = s == 0;
    snprintf(path, sizeof path, "%s/classes.tsv", dir);
    file_classes = rc ? 0 : read_classes(path, &meta);
    if (file_classes < 0) rc = -1;
  }
  int maxlab = 0;
  for (int i = 0; !rc && i < n; i++) {
    pair *p = &pairs[i];
    int mh, mw;
    snprintf(path, sizeof path, "%s/%s.npy", idir, imgs.v[i]);
    if (read_image(path, &p->img, &p->H, &p->W)) {
      rc = -1;
      break;
    }
    snprintf(path, sizeof path, "%s/%s.npy", mdir, imgs.v[i]);
    if (read_mask(path, &p->mask, &mh, &mw)) {
      rc = -1;
      break;
    }
    if (mh != p->H || mw != p->W) {
      rc = cb_error("%s: mask is %dx%d but its image is %dx%d", path, mh, mw, p->H, p->W);
      break;
    }
    if (o.H <= 0 && (p->H != pairs[0].H || p->W != pairs[0].W)) {
      rc = cb_error("%s/%s.npy: image is %dx%d but %s is %dx%d; images differ in size, so give a "
                    "size to resize them to (e.g. --size 224 224)",
                    idir, imgs.v[i], p->H, p->W, imgs.v[0], pairs[0].H, pairs[0].W);
      break;
    }
    size_t px = (size_t)p->H * (size_t)p->W;
    for (size_t k = 0; k < px; k++)
      if (p->mask[k] > maxlab) maxlab = p->mask[k];
    /* Without a class count, the most we support: the message then names
     * the mask that goes beyond it. */
    int limit = o.classes > 0 ? o.classes : file_classes > 0 ? file_classes : CB_DATA_MAX_CLASSES;
    for (size_t k = 0; k < px; k++)
      if (p->mask[k] >= limit) {
        if (o.classes <= 0 && file_classes <= 0)
          rc = cb_error("%s: class id %d at row %zu, column %zu; at most %d classes (ids 0..%d) "
                        "are supported, numbered from 0",
                        path, p->mask[k], k / (size_t)p->W, k % (size_t)p->W, limit, limit - 1);
        else
          rc = cb_error("%s: class id %d at row %zu, column %zu, but the dataset has %d classes "
                        "(0..%d)%s",
                        path, p->mask[k], k / (size_t)p->W, k % (size_t)p->W, limit, limit - 1,
                        o.classes > 0 ? "; raise the class count (--classes)" : " per classes.tsv");
        break;
      }
  }
  int classes = o.classes > 0 ? o.classes : file_classes > 0 ? file_classes : maxlab + 1;
  if (classes < 2) classes = 2;
  if (!rc && classes > CB_DATA_MAX_CLASSES)
    rc = cb_error("%s: masks use class %d; at most %d classes are supported", dir, maxlab,
                  CB_DATA_MAX_CLASSES);
  int H = o.H > 0 ? o.H : (!rc ? pairs[0].H : 0), W = o.W > 0 ? o.W : (!rc ? pairs[0].W : 0);
  if (!rc && cb_dataset_alloc(out, n, H, W, classes, 1)) rc = -1;
  for (int i = 0; !rc && i < n; i++) {
    size_t px = (size_t)H * (size_t)W;
    pair *p = &pairs[i];
    if (p->H == H && p->W == W) {
      memcpy(out->images + i * px, p->img, px * sizeof(float));
      memcpy(out->masks + i * px, p->mask, px);
    } else {
      if (cb_resize_bilinear(p->img, p->H, p->W, out->images + i * px, H, W)) rc = -1;
      cb_resize_nearest(p->mask, p->H, p->W, out->masks + i * px, H, W);
    }
    out->subjects[i] = subj[i];
    if (!rc && cb_dataset_set_name(out, i, imgs.v[i])) rc = -1;
  }
  if (!rc) {
    out->subjects_known = subjects_known;
    out->background = file_classes > 0 ? meta.background : 1;
    memcpy(out->class_names, meta.class_names, sizeof meta.class_names);
  } else {
    cb_dataset_free(out);
  }
  for (int i = 0; pairs && i < n; i++) {
    free(pairs[i].img);
    free(pairs[i].mask);
  }
  free(pairs);
  free(subj);
  names_free(&imgs);
  names_free(&msks);
  return rc;
}

/* ---- writing ---- */

struct cb_npyw {
  char dir[PATH_CAP], tmp[PATH_CAP];
  FILE *subjects; /* rows collected in a temporary file until finish */
  char subj_path[PATH_CAP];
  int count;
};

static void remove_tree(const char *root) {
  const char *subs[2] = {"images", "masks"};
  char p[PATH_CAP];
  for (int s = 0; s < 2; s++) {
    snprintf(p, sizeof p, "%s/%s", root, subs[s]);
    DIR *d = opendir(p);
    if (d) {
      struct dirent *e;
      char f[PATH_CAP + 256];
      while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
          snprintf(f, sizeof f, "%s/%s", p, e->d_name);
          remove(f);
        }
      closedir(d);
    }
    rmdir(p);
  }
  const char *files[3] = {"subjects.tsv", "classes.tsv", "subjects.tsv.rows"};
  for (int k = 0; k < 3; k++) {
    snprintf(p, sizeof p, "%s/%s", root, files[k]);
    remove(p);
  }
  rmdir(root);
}

int cb_npyw_begin(cb_npyw **wp, const char *dir) {
  *wp = NULL;
  struct stat st;
  if (stat(dir, &st) == 0)
    return cb_error("%s: already exists; choose a new output folder or remove it", dir);
  cb_npyw *w = calloc(1, sizeof *w);
  if (!w) return cb_error("out of memory");
  snprintf(w->dir, sizeof w->dir, "%s", dir);
  snprintf(w->tmp, sizeof w->tmp, "%s.tmp-%ld", dir, (long)getpid());
  char p[PATH_CAP + 16];
  remove_tree(w->tmp);
  if (mkdir(w->tmp, 0777) != 0) {
    int e = errno;
    free(w);
    return cb_error("%s: cannot create folder: %s", dir, strerror(e));
  }
  snprintf(p, sizeof p, "%s/images", w->tmp);
  int ok = mkdir(p, 0777) == 0;
  snprintf(p, sizeof p, "%s/masks", w->tmp);
  ok = ok && mkdir(p, 0777) == 0;
  snprintf(w->subj_path, sizeof w->subj_path, "%s/subjects.tsv.rows", w->tmp);
  w->subjects = ok ? fopen(w->subj_path, "w") : NULL;
  if (!w->subjects) {
    int e = errno;
    remove_tree(w->tmp);
    free(w);
    return cb_error("%s: cannot create the output folder: %s", dir, strerror(e));
  }
  *wp = w;
  return 0;
}

int cb_npyw_add(cb_npyw *w, const char *name, int subject, const float *image, const uint8_t *mask,
                int H, int W, const char *extra) {
  if (!name[0] || strchr(name, '/') || strchr(name, '\t') || strchr(name, '\n') || name[0] == '.')
    return cb_error("image name '%s' cannot be a file name", name);
  char p[PATH_CAP + 300];
  int64_t shape[2] = {H, W};
  snprintf(p, sizeof p, "%s/images/%s.npy", w->tmp, name);
  if (cb_npy_write(p, CB_NPY_F32, 2, shape, image)) return -1;
  snprintf(p, sizeof p, "%s/masks/%s.npy", w->tmp, name);
  if (cb_npy_write(p, CB_NPY_U8, 2, shape, mask)) return -1;
  fprintf(w->subjects, "%s\t%d%s%s\n", name, subject, extra ? "\t" : "", extra ? extra : "");
  w->count++;
  return ferror(w->subjects) ? cb_error("%s: write failed", w->subj_path) : 0;
}

int cb_npyw_finish(cb_npyw *w, const cb_dataset *meta, const char *extra_header) {
  char p[PATH_CAP + 32];
  int rc = fclose(w->subjects) == 0 ? 0 : cb_error("%s: write failed", w->subj_path);
  w->subjects = NULL;
  /* subjects.tsv = header + the collected rows. */
  snprintf(p, sizeof p, "%s/subjects.tsv", w->tmp);
  FILE *in = rc ? NULL : fopen(w->subj_path, "r"), *out = rc ? NULL : fopen(p, "w");
  if (!rc && (!in || !out)) rc = cb_error("%s: cannot write subjects.tsv", w->dir);
  if (!rc) {
    fprintf(out, "name\tsubject%s%s\n", extra_header ? "\t" : "", extra_header ? extra_header : "");
    char buf[8192];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
      fwrite(buf, 1, k, out);
  }
  if (in) fclose(in);
  if (out && (ferror(out) | fclose(out)) && !rc) rc = cb_error("%s: write failed", p);
  remove(w->subj_path);
  snprintf(p, sizeof p, "%s/classes.tsv", w->tmp);
  out = rc ? NULL : fopen(p, "w");
  if (!rc && !out) rc = cb_error("%s: cannot write classes.tsv", w->dir);
  if (!rc) {
    fprintf(out, "id\tname\tbackground\n");
    for (int c = 0; c < meta->classes; c++) {
      char b[32];
      fprintf(out, "%d\t%s\t%d\n", c, cb_dataset_class_name(meta, c, b, sizeof b),
              (int)((meta->background >> c) & 1));
    }
    if ((ferror(out) | fclose(out))) rc = cb_error("%s: write failed", p);
  }
  if (!rc && rename(w->tmp, w->dir) != 0)
    rc = cb_error("%s: cannot move the finished folder into place: %s", w->dir, strerror(errno));
  if (rc) remove_tree(w->tmp);
  free(w);
  return rc;
}

void cb_npyw_abort(cb_npyw *w) {
  if (!w) return;
  if (w->subjects) fclose(w->subjects);
  remove_tree(w->tmp);
  free(w);
}

int cb_npy_folder_write(const char *dir, const cb_dataset *d) {
  cb_npyw *w;
  if (cb_npyw_begin(&w, dir)) return -1;
  size_t px = (size_t)d->H * (size_t)d->W;
  for (int i = 0; i < d->n; i++) {
    char name[32];
    const char *nm = d->names && d->names[i] ? d->names[i] : name;
    snprintf(name, sizeof name, "img_%05d", i);
    if (cb_npyw_add(w, nm, d->subjects[i], d->images + i * px, d->masks + i * px, d->H, d->W,
                    NULL)) {
      cb_npyw_abort(w);
      return -1;
    }
  }
  return cb_npyw_finish(w, d, NULL);
}
