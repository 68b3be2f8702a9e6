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

const char *const CB_MASK_RESIZE_NAMES[] = {"nearest", "bilinear_round", NULL};

int cb_subject_from_name(const char *name) {
  static const char P[] = "Subject_";
  if (strncmp(name, P, sizeof P - 1) != 0) return -1;
  const char *s = name + sizeof P - 1;
  long v = 0;
  int digits = 0;
  for (; *s >= '0' && *s <= '9'; s++, digits++)
    if ((v = v * 10 + (*s - '0')) > 1000000000L) return -1;
  if (!digits || (*s && *s != '_')) return -1;
  return (int)v;
}

/* One folder with images/ and masks/: a flat dataset, or one split folder. */
typedef struct {
  char dir[PATH_CAP];
  int split; /* CB_SPLIT_*, or -1 for a flat folder */
  names imgs;
  int *subj;   /* subject of every image */
  int subj_of; /* 0 unknown, 1 subjects.tsv, 2 Subject_XX names */
} part;

static void part_free(part *p) {
  names_free(&p->imgs);
  free(p->subj);
  p->subj = NULL;
}

/* Lists the pairs of p->dir, checks every image has a mask and the reverse,
 * and finds the subjects (subjects.tsv, else the names). */
static int part_list(part *p) {
  char idir[PATH_CAP + 16], mdir[PATH_CAP + 16], path[PATH_CAP + 16];
  struct stat st;
  snprintf(idir, sizeof idir, "%s/images", p->dir);
  snprintf(mdir, sizeof mdir, "%s/masks", p->dir);
  if (stat(idir, &st) != 0 || stat(mdir, &st) != 0)
    return cb_error("%s: %s needs images/ and masks/ subfolders of .npy files", p->dir,
                    p->split < 0 ? "an NPY folder" : "a split folder");
  names msks;
  if (list_npy(idir, &p->imgs)) return -1;
  if (list_npy(mdir, &msks)) return -1;
  int rc = 0;
  if (p->imgs.n == 0) rc = cb_error("%s: no .npy files", idir);
  for (int i = 0; !rc && i < p->imgs.n; i++)
    if (find_name(&msks, p->imgs.v[i]) < 0)
      rc = cb_error("%s/%s.npy: image without a mask (expected %s/%s.npy)", idir, p->imgs.v[i],
                    mdir, p->imgs.v[i]);
  for (int i = 0; !rc && i < msks.n; i++)
    if (find_name(&p->imgs, msks.v[i]) < 0)
      rc = cb_error("%s/%s.npy: mask without an image (expected %s/%s.npy)", mdir, msks.v[i], idir,
                    msks.v[i]);
  names_free(&msks);
  if (rc) return rc;
  p->subj = calloc((size_t)p->imgs.n, sizeof *p->subj);
  if (!p->subj) return cb_error("out of memory");
  snprintf(path, sizeof path, "%s/subjects.tsv", p->dir);
  int s = read_subjects(path, &p->imgs, p->subj);
  if (s < 0) return -1;
  if (s == 0) {
    p->subj_of = 1;
    return 0;
  }
  p->subj_of = 2;
  for (int i = 0; i < p->imgs.n && p->subj_of; i++)
    if ((p->subj[i] = cb_subject_from_name(p->imgs.v[i])) < 0) p->subj_of = 0;
  return 0;
}

/* The parts of dir: itself when it has images/ (or masks/), else its split
 * folders train/, val/, test/ (train/ required). */
static int find_parts(const char *dir, part *parts, int *np) {
  struct stat st;
  char p[PATH_CAP + 16];
  *np = 0;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return cb_error("%s: no such dataset folder (give 'synthetic', a folder with images/ and "
                    "masks/, or a folder of split folders train/ val/ test/)",
                    dir);
  snprintf(p, sizeof p, "%s/images", dir);
  int flat = stat(p, &st) == 0;
  snprintf(p, sizeof p, "%s/masks", dir);
  flat = flat || stat(p, &st) == 0;
  if (flat) {
    snprintf(parts[0].dir, PATH_CAP, "%s", dir);
    parts[0].split = -1;
    *np = 1;
    return 0;
  }
  for (int k = 0; k < 3; k++) {
    snprintf(p, sizeof p, "%s/%s", dir, CB_SPLIT_NAMES[k]);
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (k > 0 && *np == 0)
      return cb_error("%s: has %s/ but no train/; a folder of split folders needs train/ (and "
                      "optionally val/ and test/)",
                      dir, CB_SPLIT_NAMES[k]);
    snprintf(parts[*np].dir, PATH_CAP, "%s", p);
    parts[*np].split = k;
    ++*np;
  }
  if (*np == 0)
    return cb_error("%s: not a dataset folder: expected images/ and masks/, or split folders "
                    "train/ [val/ test/] each with images/ and masks/",
                    dir);
  return 0;
}

/* A subject or a name in two split folders would put one eye on both sides
 * of the split; the message names both files. */
static int check_parts_disjoint(const part *parts, int np, int subjects_known) {
  for (int a = 0; a < np; a++)
    for (int b = a + 1; b < np; b++)
      for (int i = 0; i < parts[b].imgs.n; i++) {
        const char *nb = parts[b].imgs.v[i];
        int j = find_name(&parts[a].imgs, nb);
        if (j >= 0)
          return cb_error("%s/images/%s.npy: the same name is in %s/; an image belongs in one "
                          "split folder: remove one of them",
                          parts[b].dir, nb, parts[a].dir);
        for (int k = 0; subjects_known && k < parts[a].imgs.n; k++)
          if (parts[a].subj[k] == parts[b].subj[i])
            return cb_error("%s/images/%s.npy: subject %d is also in %s/ (%s.npy); all B-scans of "
                            "a subject belong in one split folder: move them (or fix %s)",
                            parts[b].dir, nb, parts[b].subj[i], parts[a].dir, parts[a].imgs.v[k],
                            parts[b].subj_of == 1 ? "subjects.tsv" : "the file names");
      }
  return 0;
}

/* Maps the stored ids of a mask and checks them against the class count;
 * the error names the file, the pixel and what to change. */
static int map_and_check(const char *path, uint8_t *m, size_t px, int W, const cb_label_map *map,
                         int limit, int limit_from_opts, int limit_from_file) {
  for (size_t k = 0; k < px; k++) {
    int raw = m[k], v = map ? map->lut[raw] : raw;
    m[k] = (uint8_t)v;
    if (v < limit) continue;
    char mapped[64] = "";
    if (map && map->n && v != raw) snprintf(mapped, sizeof mapped, " (label %d mapped)", raw);
    if (!limit_from_opts && !limit_from_file)
      return cb_error("%s: class id %d%s at row %zu, column %zu; at most %d classes (ids 0..%d) "
                      "are supported, numbered from 0; map the labels (data.label_map / "
                      "--label-map)",
                      path, v, mapped, k / (size_t)W, k % (size_t)W, limit, limit - 1);
    return cb_error("%s: class id %d%s at row %zu, column %zu, but the dataset has %d classes "
                    "(0..%d)%s; map the labels (data.label_map / --label-map, e.g. duke_10_to_9 "
                    "for the study's 10-label masks)%s",
                    path, v, mapped, k / (size_t)W, k % (size_t)W, limit, limit - 1,
                    limit_from_opts ? "" : " per classes.tsv",
                    limit_from_opts ? " or raise the class count (data.classes / --classes)" : "");
  }
  return 0;
}

int cb_npy_folder_load(const char *dir, const cb_npy_folder_opts *opts, cb_dataset *out) {
  memset(out, 0, sizeof *out);
  cb_npy_folder_opts o = {.classes = 0};
  if (opts) o = *opts;
  char path[PATH_CAP + 300];
  part parts[3];
  memset(parts, 0, sizeof parts);
  int np = 0, rc = find_parts(dir, parts, &np);
  for (int k = 0; !rc && k < np; k++)
    rc = part_list(&parts[k]);
  int n = 0, subjects_known = np > 0;
  for (int k = 0; k < np; k++) {
    n += parts[k].imgs.n;
    subjects_known = subjects_known && parts[k].subj_of;
  }
  if (!rc && np > 1) rc = check_parts_disjoint(parts, np, subjects_known);
  cb_dataset meta;
  memset(&meta, 0, sizeof meta);
  pair *pairs = rc ? NULL : calloc((size_t)n, sizeof *pairs);
  if (!rc && !pairs) rc = cb_error("out of memory");
  int file_classes = 0;
  if (!rc) {
    snprintf(path, sizeof path, "%s/classes.tsv", dir);
    file_classes = read_classes(path, &meta);
    if (file_classes < 0) rc = -1;
  }
  /* Without a class count, the most we support: the message then names the
   * mask that goes beyond it. */
  int limit = o.classes > 0 ? o.classes : file_classes > 0 ? file_classes : CB_DATA_MAX_CLASSES;
  int maxlab = 0, i = 0;
  char first[PATH_CAP + 300] = "";
  for (int k = 0; !rc && k < np; k++)
    for (int j = 0; !rc && j < parts[k].imgs.n; j++, i++) {
      pair *p = &pairs[i];
      const char *nm = parts[k].imgs.v[j];
      int mh, mw;
      snprintf(path, sizeof path, "%s/images/%s.npy", parts[k].dir, nm);
      if (read_image(path, &p->img, &p->H, &p->W)) {
        rc = -1;
        break;
      }
      if (o.H <= 0 && i > 0 && (p->H != pairs[0].H || p->W != pairs[0].W)) {
        rc = cb_error("%s: image is %dx%d but %s is %dx%d; images differ in size, so give a "
                      "size to resize them to (e.g. --size 224 224)",
                      path, p->H, p->W, first, pairs[0].H, pairs[0].W);
        break;
      }
      if (i == 0) snprintf(first, sizeof first, "%s", path);
      snprintf(path, sizeof path, "%s/masks/%s.npy", parts[k].dir, nm);
      if (read_mask(path, &p->mask, &mh, &mw)) {
        rc = -1;
        break;
      }
      if (mh != p->H || mw != p->W) {
        rc = cb_error("%s: mask is %dx%d but its image is %dx%d", path, mh, mw, p->H, p->W);
        break;
      }
      size_t px = (size_t)p->H * (size_t)p->W;
      if (map_and_check(path, p->mask, px, p->W, o.map, limit, o.classes > 0, file_classes > 0)) {
        rc = -1;
        break;
      }
      for (size_t q = 0; q < px; q++)
        if (p->mask[q] > maxlab) maxlab = p->mask[q];
    }
  int classes = o.classes > 0 ? o.classes : file_classes > 0 ? file_classes : maxlab + 1;
  if (classes < 2) classes = 2;
  int H = o.H > 0 ? o.H : (!rc ? pairs[0].H : 0), W = o.W > 0 ? o.W : (!rc ? pairs[0].W : 0);
  if (!rc && cb_dataset_alloc(out, n, H, W, classes, 1)) rc = -1;
  if (!rc && parts[0].split >= 0 && !(out->folder = calloc((size_t)n, 1)))
    rc = cb_error("out of memory");
  i = 0;
  for (int k = 0; !rc && k < np; k++)
    for (int j = 0; !rc && j < parts[k].imgs.n; j++, i++) {
      size_t px = (size_t)H * (size_t)W;
      pair *p = &pairs[i];
      if (p->H == H && p->W == W) {
        memcpy(out->images + i * px, p->img, px * sizeof(float));
        memcpy(out->masks + i * px, p->mask, px);
      } else {
        if (cb_resize_bilinear(p->img, p->H, p->W, out->images + i * px, H, W)) rc = -1;
        if (o.mask_resize == CB_MASK_RESIZE_BILINEAR_ROUND) {
          if (!rc && cb_resize_labels_bilinear(p->mask, p->H, p->W, out->masks + i * px, H, W))
            rc = -1;
        } else {
          cb_resize_nearest(p->mask, p->H, p->W, out->masks + i * px, H, W);
        }
      }
      out->subjects[i] = subjects_known ? parts[k].subj[j] : i + 1;
      if (out->folder) out->folder[i] = (int8_t)parts[k].split;
      if (!rc && cb_dataset_set_name(out, i, parts[k].imgs.v[j])) rc = -1;
    }
  if (!rc) {
    out->subjects_known = subjects_known;
    out->background = file_classes > 0 ? meta.background : 1;
    memcpy(out->class_names, meta.class_names, sizeof meta.class_names);
    if (file_classes == 0 && classes == 9 && o.map && strcmp(o.map->name, "duke_10_to_9") == 0)
      cb_dataset_set_oct_classes(out, 9);
  } else {
    cb_dataset_free(out);
  }
  for (int q = 0; pairs && q < n; q++) {
    free(pairs[q].img);
    free(pairs[q].mask);
  }
  free(pairs);
  for (int k = 0; k < np; k++)
    part_free(&parts[k]);
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
