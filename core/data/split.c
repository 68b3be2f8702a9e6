/* Train / validation / test splits that never share a subject: all B-scans
 * of one eye go to one split, otherwise the validation score measures memory
 * of the eye instead of generalisation. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/kernels/philox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const CB_SPLIT_NAMES[3] = {"train", "val", "test"};

void cb_split_spec_default(cb_split_spec *s) {
  memset(s, 0, sizeof *s);
  s->val_frac = 0.2;
  s->test_frac = 0.2;
  s->seed = 1;
}

void cb_split_free(cb_split *s) {
  for (int k = 0; k < 3; k++)
    free(s->idx[k]);
  memset(s, 0, sizeof *s);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

int cb_subject_list_parse(const char *s, int *ids, int cap, int *n) {
  *n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    long a = strtol(p, &end, 10), b;
    if (end == p || a < 0) return cb_error("subject list '%s': expected numbers like 1-6,8", s);
    p = end;
    b = a;
    if (*p == '-') {
      p++;
      b = strtol(p, &end, 10);
      if (end == p || b < a) return cb_error("subject list '%s': bad range (write low-high)", s);
      p = end;
    }
    for (long v = a; v <= b; v++) {
      if (*n >= cap) return cb_error("subject list '%s': more than %d subjects", s, cap);
      ids[(*n)++] = (int)v;
    }
    while (*p == ' ')
      p++;
    if (*p == ',')
      p++;
    else if (*p)
      return cb_error("subject list '%s': unexpected '%c'", s, *p);
    while (*p == ' ')
      p++;
  }
  qsort(ids, (size_t)*n, sizeof *ids, cmp_int);
  int m = 0;
  for (int i = 0; i < *n; i++)
    if (m == 0 || ids[m - 1] != ids[i]) ids[m++] = ids[i];
  *n = m;
  return 0;
}

static int in_list(const int *ids, int n, int v) {
  return bsearch(&v, ids, (size_t)n, sizeof v, cmp_int) != NULL;
}

static int alloc_split(cb_split *out, int n) {
  for (int k = 0; k < 3; k++) {
    out->idx[k] = cb_malloc((size_t)(n ? n : 1) * sizeof(int), "split");
    if (!out->idx[k]) return -1;
  }
  return 0;
}

static const int STUDY[3][6] = {{1, 2, 3, 4, 5, 6}, {7, 8}, {9, 10}};
static const int STUDY_N[3] = {6, 2, 2};

static void list_text(const int *ids, int n, char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < n && o + 16 < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%d", i ? "," : "", ids[i]);
}

static int split_by_lists(const cb_dataset *d, const cb_split_spec *s, cb_split *out) {
  int *ids[3] = {0}, n[3] = {0}, rc = 0;
  for (int k = 0; k < 3 && !rc; k++) {
    const int *src = s->subjects[k] ? s->subjects[k] : STUDY[k];
    n[k] = s->subjects[k] ? s->n_subjects[k] : STUDY_N[k];
    ids[k] = cb_malloc((size_t)(n[k] ? n[k] : 1) * sizeof(int), "subject list");
    if (!ids[k]) {
      rc = -1;
      break;
    }
    memcpy(ids[k], src, (size_t)n[k] * sizeof(int));
    qsort(ids[k], (size_t)n[k], sizeof(int), cmp_int);
  }
  for (int a = 0; a < 3 && !rc; a++)
    for (int b = a + 1; b < 3 && !rc; b++)
      for (int i = 0; i < n[a] && !rc; i++)
        if (in_list(ids[b], n[b], ids[a][i]))
          rc = cb_error("subject %d is in both the %s and the %s list; a subject belongs to one "
                        "split only",
                        ids[a][i], CB_SPLIT_NAMES[a], CB_SPLIT_NAMES[b]);
  if (!rc) rc = alloc_split(out, d->n);
  for (int i = 0; !rc && i < d->n; i++)
    for (int k = 0; k < 3; k++)
      if (in_list(ids[k], n[k], d->subjects[i])) out->idx[k][out->n[k]++] = i;
  for (int k = 0; k < 3 && !rc; k++)
    if (n[k] > 0 && out->n[k] == 0) {
      char l[256];
      list_text(ids[k], n[k], l, sizeof l);
      int lo = d->n ? d->subjects[0] : 0, hi = lo;
      for (int i = 0; i < d->n; i++) {
        if (d->subjects[i] < lo) lo = d->subjects[i];
        if (d->subjects[i] > hi) hi = d->subjects[i];
      }
      rc = cb_error("the %s subjects (%s) have no images in this dataset (its subjects are "
                    "%d..%d); give subjects that exist or split by fraction",
                    CB_SPLIT_NAMES[k], l, lo, hi);
    }
  for (int k = 0; k < 3; k++)
    free(ids[k]);
  return rc;
}

static int split_by_fraction(const cb_dataset *d, const cb_split_spec *s, cb_split *out) {
  if (!(s->val_frac >= 0 && s->test_frac >= 0 && s->val_frac + s->test_frac < 1.0))
    return cb_error("split fractions val %g + test %g must be >= 0 and leave images to train",
                    s->val_frac, s->test_frac);
  /* Distinct subjects with their image counts. */
  int *subj = cb_malloc((size_t)(d->n ? d->n : 1) * sizeof(int), "split");
  if (!subj) return -1;
  memcpy(subj, d->subjects, (size_t)d->n * sizeof(int));
  qsort(subj, (size_t)d->n, sizeof(int), cmp_int);
  int ns = 0;
  for (int i = 0; i < d->n; i++)
    if (ns == 0 || subj[ns - 1] != subj[i]) subj[ns++] = subj[i];
  int need = 1 + (s->val_frac > 0) + (s->test_frac > 0);
  if (ns < need) {
    free(subj);
    return cb_error("split by fraction needs at least %d subjects, the dataset has %d", need, ns);
  }
  /* Fisher-Yates shuffle of the subjects with Philox. */
  for (int i = ns - 1; i > 0; i--) {
    int j = (int)(cb_uniform(s->seed, CB_STREAM_SPLIT, 0, (uint64_t)i) * (double)(i + 1));
    if (j > i) j = i;
    int t = subj[i];
    subj[i] = subj[j];
    subj[j] = t;
  }
  int *where = cb_malloc((size_t)ns * sizeof(int), "split");
  int *count = cb_calloc((size_t)ns, sizeof(int), "split");
  if (!where || !count || alloc_split(out, d->n)) {
    free(subj);
    free(where);
    free(count);
    return -1;
  }
  int *sorted = cb_malloc((size_t)ns * sizeof(int), "split");
  int rc = sorted ? 0 : -1;
  if (!rc) {
    memcpy(sorted, subj, (size_t)ns * sizeof(int));
    qsort(sorted, (size_t)ns, sizeof(int), cmp_int);
    for (int i = 0; i < d->n; i++) {
      int *p = bsearch(&d->subjects[i], sorted, (size_t)ns, sizeof(int), cmp_int);
      count[p - sorted]++;
    }
    /* Walk the shuffled subjects: test first, then validation, rest train;
     * always keep at least one subject for training. */
    double target[3] = {0, s->val_frac * d->n, s->test_frac * d->n};
    int got[3] = {0}, pos = 0;
    int order[2] = {CB_SPLIT_TEST, CB_SPLIT_VAL};
    for (int o = 0; o < 2; o++) {
      int k = order[o];
      while (target[k] > 0 && (double)got[k] < target[k] &&
             pos < ns - 1 - (o == 0 && s->val_frac > 0 ? 1 : 0)) {
        int *p = bsearch(&subj[pos], sorted, (size_t)ns, sizeof(int), cmp_int);
        where[p - sorted] = k;
        got[k] += count[p - sorted];
        pos++;
      }
    }
    for (; pos < ns; pos++) {
      int *p = bsearch(&subj[pos], sorted, (size_t)ns, sizeof(int), cmp_int);
      where[p - sorted] = CB_SPLIT_TRAIN;
    }
    for (int i = 0; i < d->n; i++) {
      int *p = bsearch(&d->subjects[i], sorted, (size_t)ns, sizeof(int), cmp_int);
      int k = where[p - sorted];
      out->idx[k][out->n[k]++] = i;
    }
  }
  free(sorted);
  free(subj);
  free(where);
  free(count);
  return rc;
}

/* The published layout decides: train/, val/, test/ folders (the loader has
 * already refused a subject in two of them). */
static int split_by_folders(const cb_dataset *d, cb_split *out) {
  if (!d->folder)
    return cb_error("split by folders needs a dataset folder of split folders (train/, val/, "
                    "test/, each with images/ and masks/); split by subject or fraction instead");
  if (alloc_split(out, d->n)) return -1;
  for (int i = 0; i < d->n; i++) {
    int k = d->folder[i];
    if (k < 0 || k > 2) return cb_error("internal: image %d has split folder %d", i, k);
    out->idx[k][out->n[k]++] = i;
  }
  return 0;
}

int cb_split_make(const cb_dataset *d, const cb_split_spec *s, cb_split *out) {
  memset(out, 0, sizeof *out);
  int rc = s->by_folders    ? split_by_folders(d, out)
           : s->by_fraction ? split_by_fraction(d, s, out)
                            : split_by_lists(d, s, out);
  if (!rc && out->n[CB_SPLIT_TRAIN] == 0) rc = cb_error("the training split is empty");
  if (rc) cb_split_free(out);
  return rc;
}
