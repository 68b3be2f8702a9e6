/* The data of the reproduction report's curve figure: per architecture, the
 * validation Dice per epoch of our as-published runs (mean and range over
 * seeds, at the study's lr) beside the study's published curve of the same
 * arm (docs/reproduction/published_curves.tsv). Written as gnuplot data
 * blocks: ours first, then the study's, each headed by its title. */
#include "core/base/error.h"
#include "results/store_internal.h"
#include "results/study_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CELLS 32
#define MAX_EPOCHS 1000

typedef struct {
  char method[32];
  double sigma;
  double sum[MAX_EPOCHS], lo[MAX_EPOCHS], hi[MAX_EPOCHS];
  int n[MAX_EPOCHS];
} curve;

static int rank_of(const char *m) {
  return strcmp(m, "nonprivate") == 0              ? 0
         : strcmp(m, "flat") == 0                  ? 1
         : strcmp(m, "per_layer") == 0             ? 2
         : strcmp(m, "automatic") == 0             ? 3
         : strcmp(m, "random_sparsification") == 0 ? 4
                                                   : 6;
}

static curve *cell(curve *c, int *nc, const char *method, double sigma) {
  for (int i = 0; i < *nc; i++)
    if (strcmp(c[i].method, method) == 0 &&
        ((isnan(sigma) && isnan(c[i].sigma)) || fabs(sigma - c[i].sigma) < 1e-9))
      return &c[i];
  if (*nc == MAX_CELLS) return NULL;
  curve *x = &c[(*nc)++];
  memset(x, 0, sizeof *x);
  snprintf(x->method, sizeof x->method, "%s", method);
  x->sigma = sigma;
  return x;
}

static void add(curve *x, int epoch, double v) {
  if (epoch < 1 || epoch > MAX_EPOCHS || isnan(v)) return;
  int e = epoch - 1;
  if (!x->n[e] || v < x->lo[e]) x->lo[e] = v;
  if (!x->n[e] || v > x->hi[e]) x->hi[e] = v;
  x->sum[e] += v;
  x->n[e]++;
}

static void write_block(FILE *f, const curve *x, const char *who) {
  char title[96];
  if (isnan(x->sigma))
    snprintf(title, sizeof title, "%s: %s", who, x->method);
  else
    snprintf(title, sizeof title, "%s: %s sigma %g", who, x->method, x->sigma);
  fprintf(f, "epoch\t%s\tlo\thi\trank\n", title);
  for (int e = 0; e < MAX_EPOCHS; e++)
    if (x->n[e])
      fprintf(f, "%d\t%.6g\t%.6g\t%.6g\t%d\n", e + 1, x->sum[e] / x->n[e], x->lo[e], x->hi[e],
              rank_of(x->method));
  fputs("\n\n", f);
}

/* Our as-published runs' per-epoch validation Dice from each database. */
static int ours_from(const char *db, const st_runs *ours, const char *arch, curve *c, int *nc) {
  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "SELECT e.run_id, e.epoch, e.val_dice FROM epochs e JOIN runs r ON r.id = "
                       "e.run_id WHERE r.status = 'finished' AND r.arch = ?1 AND e.val_dice IS "
                       "NOT NULL",
                       &st, "reading curves")) {
    cb_store_close(s);
    return -1;
  }
  sqlite3_bind_text(st, 1, arch, -1, SQLITE_STATIC);
  int step;
  while ((step = cb_store_step(s, st)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    for (int i = 0; i < ours->n; i++) {
      const st_run *x = &ours->v[i];
      if (strcmp(x->id, id) != 0) continue;
      if (x->proc != ST_PUBLISHED_PROC || isnan(x->lr) || fabs(x->lr - ST_STUDY_LR) > 1e-12) break;
      curve *k = cell(c, nc, x->method, x->sigma);
      if (k) add(k, sqlite3_column_int(st, 1), sqlite3_column_double(st, 2));
      break;
    }
  }
  int rc = step == SQLITE_DONE ? 0 : cb_store_err(s, step, "reading curves");
  sqlite3_finalize(st);
  cb_store_close(s);
  return rc;
}

/* The study's curves of the arms we ran (columns: method arch sigma epoch
 * train_loss val_loss val_dice ...; empty sigma = non-private). */
static int study_from(const char *path, const char *arch, const curve *ours, int n_ours, curve *c,
                      int *nc) {
  FILE *f = fopen(path, "r");
  if (!f) return cb_error("cannot read %s: %s (it sits beside --published)", path, strerror(errno));
  char line[1024];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (line[0] == '#' || strncmp(line, "method\t", 7) == 0) continue;
    char *cells[9];
    int k = 0;
    for (char *p = line; k < 9;) {
      cells[k++] = p;
      char *t = strchr(p, '\t');
      if (!t) break;
      *t = 0;
      p = t + 1;
    }
    if (k < 7) {
      fclose(f);
      return cb_error("%s:%d: %d columns, expected 9 (method, arch, sigma, epoch, ...)", path,
                      lineno, k);
    }
    if (strcmp(cells[1], arch) != 0 || !cells[6][0]) continue;
    double sigma = cells[2][0] ? atof(cells[2]) : NAN;
    int ran = 0;
    for (int i = 0; i < n_ours && !ran; i++)
      ran = strcmp(ours[i].method, cells[0]) == 0 &&
            ((isnan(sigma) && isnan(ours[i].sigma)) || fabs(sigma - ours[i].sigma) < 1e-9);
    if (!ran) continue;
    curve *x = cell(c, nc, cells[0], sigma);
    if (x) add(x, atoi(cells[3]), atof(cells[6]));
  }
  fclose(f);
  return 0;
}

int st_write_curves(const char *const *dbs, int n_dbs, const st_runs *ours,
                    const char *published_curves, const char *arch, const char *path, int *n_ours,
                    int *n_study) {
  static curve mine[MAX_CELLS], theirs[MAX_CELLS];
  int nm = 0, nt = 0, rc = 0;
  for (int i = 0; !rc && i < n_dbs; i++)
    rc = ours_from(dbs[i], ours, arch, mine, &nm);
  if (!rc) rc = study_from(published_curves, arch, mine, nm, theirs, &nt);
  if (rc) return rc;
  FILE *f = fopen(path, "w");
  if (!f) return cb_error("cannot write %s: %s", path, strerror(errno));
  for (int i = 0; i < nm; i++)
    write_block(f, &mine[i], "ours as published");
  for (int i = 0; i < nt; i++)
    write_block(f, &theirs[i], "study");
  int bad = ferror(f) != 0;
  bad |= fclose(f) != 0;
  if (bad) return cb_error("writing %s failed (disk full?)", path);
  *n_ours = nm;
  *n_study = nt;
  return 0;
}
