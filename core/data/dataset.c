/* The dataset container: allocation, names, subsets, class statistics and
 * loading by name ("synthetic" or an NPY folder). */
#include "core/data/dataset.h"

#include "core/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cb_dataset_alloc(cb_dataset *d, int n, int H, int W, int classes, int with_names) {
  memset(d, 0, sizeof *d);
  if (n < 0 || H <= 0 || W <= 0)
    return cb_error("dataset of %d images of %dx%d: sizes must be positive", n, H, W);
  if (classes < 1 || classes > CB_DATA_MAX_CLASSES)
    return cb_error("%d classes: a dataset has 1..%d classes", classes, CB_DATA_MAX_CLASSES);
  size_t px = (size_t)n * (size_t)H * (size_t)W;
  d->n = n;
  d->H = H;
  d->W = W;
  d->classes = classes;
  d->background = 1;
  d->images = cb_calloc(px ? px : 1, sizeof(float), "dataset images");
  d->masks = cb_calloc(px ? px : 1, 1, "dataset masks");
  d->subjects = cb_calloc(n ? (size_t)n : 1, sizeof(int), "dataset subjects");
  if (with_names) d->names = cb_calloc(n ? (size_t)n : 1, sizeof(char *), "dataset names");
  if (!d->images || !d->masks || !d->subjects || (with_names && !d->names)) {
    cb_dataset_free(d);
    return -1;
  }
  for (int i = 0; i < n; i++)
    d->subjects[i] = i + 1;
  return 0;
}

void cb_dataset_free(cb_dataset *d) {
  if (!d) return;
  if (d->names)
    for (int i = 0; i < d->n; i++)
      free(d->names[i]);
  free(d->names);
  free(d->images);
  free(d->masks);
  free(d->subjects);
  free(d->folder);
  memset(d, 0, sizeof *d);
}

int cb_dataset_set_name(cb_dataset *d, int i, const char *name) {
  if (!d->names) return cb_error("internal: dataset allocated without names");
  char *s = cb_strdup(name);
  if (!s) return -1;
  free(d->names[i]);
  d->names[i] = s;
  return 0;
}

const char *cb_dataset_class_name(const cb_dataset *d, int c, char *buf, size_t cap) {
  if (c >= 0 && c < CB_DATA_MAX_CLASSES && d->class_names[c][0]) return d->class_names[c];
  snprintf(buf, cap, "class %d", c);
  return buf;
}

void cb_dataset_set_oct_classes(cb_dataset *d, int classes) {
  static const char *const layers[7] = {"NFL", "GCL-IPL", "INL", "OPL", "ONL-ISM", "ISE", "OS-RPE"};
  memset(d->class_names, 0, sizeof d->class_names);
  d->background = 1;
  if (classes == 9) {
    snprintf(d->class_names[0], CB_DATA_NAME_MAX, "background");
    for (int k = 0; k < 7; k++)
      snprintf(d->class_names[k + 1], CB_DATA_NAME_MAX, "%s", layers[k]);
    snprintf(d->class_names[8], CB_DATA_NAME_MAX, "fluid");
  } else if (classes == 10) {
    snprintf(d->class_names[0], CB_DATA_NAME_MAX, "above ILM");
    for (int k = 0; k < 7; k++)
      snprintf(d->class_names[k + 1], CB_DATA_NAME_MAX, "%s", layers[k]);
    snprintf(d->class_names[8], CB_DATA_NAME_MAX, "below RPE");
    snprintf(d->class_names[9], CB_DATA_NAME_MAX, "fluid");
    d->background |= (uint64_t)1 << 8;
  }
}

int cb_dataset_subset(const cb_dataset *d, const int *idx, int n, cb_dataset *out) {
  if (cb_dataset_alloc(out, n, d->H, d->W, d->classes, d->names != NULL)) return -1;
  size_t px = (size_t)d->H * (size_t)d->W;
  for (int k = 0; k < n; k++) {
    int i = idx[k];
    if (i < 0 || i >= d->n) {
      cb_dataset_free(out);
      return cb_error("internal: subset index %d outside 0..%d", i, d->n - 1);
    }
    memcpy(out->images + (size_t)k * px, d->images + (size_t)i * px, px * sizeof(float));
    memcpy(out->masks + (size_t)k * px, d->masks + (size_t)i * px, px);
    out->subjects[k] = d->subjects[i];
    if (d->folder && !out->folder && !(out->folder = cb_calloc((size_t)n, 1, "dataset folders"))) {
      cb_dataset_free(out);
      return -1;
    }
    if (d->folder) out->folder[k] = d->folder[i];
    if (d->names && d->names[i] && cb_dataset_set_name(out, k, d->names[i])) {
      cb_dataset_free(out);
      return -1;
    }
  }
  out->subjects_known = d->subjects_known;
  out->background = d->background;
  memcpy(out->class_names, d->class_names, sizeof d->class_names);
  return 0;
}

void cb_dataset_class_counts(const cb_dataset *d, uint64_t *counts) {
  memset(counts, 0, (size_t)d->classes * sizeof *counts);
  size_t px = (size_t)d->n * (size_t)d->H * (size_t)d->W;
  for (size_t i = 0; i < px; i++)
    if (d->masks[i] < d->classes) counts[d->masks[i]]++;
}

int cb_dataset_check_masks(const cb_dataset *d, const char *what) {
  size_t px = (size_t)d->H * (size_t)d->W;
  for (int i = 0; i < d->n; i++) {
    const uint8_t *m = d->masks + (size_t)i * px;
    for (size_t p = 0; p < px; p++) {
      if (m[p] < d->classes) continue;
      char name[64];
      if (d->names && d->names[i])
        snprintf(name, sizeof name, "%s", d->names[i]);
      else
        snprintf(name, sizeof name, "image %d", i);
      return cb_error("%s: mask of %s has class %d at row %zu, column %zu, but the data has "
                      "%d classes (0..%d); set the class count to at least %d",
                      what, name, m[p], p / (size_t)d->W, p % (size_t)d->W, d->classes,
                      d->classes - 1, m[p] + 1);
    }
  }
  return 0;
}

void cb_data_spec_default(cb_data_spec *s) {
  memset(s, 0, sizeof *s);
  s->source = "synthetic";
  s->count = 110;
  s->H = 224;
  s->W = 224;
  s->seed = 1;
  s->classes = 9;
  cb_synth_opts_default(&s->synth);
}

int cb_dataset_load(const cb_data_spec *s, cb_dataset *out) {
  memset(out, 0, sizeof *out);
  if (!s->source || strcmp(s->source, "synthetic") == 0) {
    cb_synth_opts o = s->synth;
    if (s->classes) o.classes = s->classes;
    return cb_synth_oct(out, s->count, s->H, s->W, s->seed, &o);
  }
  cb_npy_folder_opts o = {
      .classes = s->classes, .H = s->H, .W = s->W, .mask_resize = s->mask_resize, .map = s->map};
  return cb_npy_folder_load(s->source, &o, out);
}
