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

/* Per epoch, over seeds: validation Dice (plotted), validation loss and the
 * PRV epsilon (the study's accountant: Opacus 1.4's PrivacyEngine() defaults
 * to PRV), for the epoch-matched table. */
enum { C_DICE, C_LOSS, C_EPS, C_N };
typedef struct {
  char method[32];
  double sum[C_N][MAX_EPOCHS], lo[C_N][MAX_EPOCHS], hi[C_N][MAX_EPOCHS];
  int n[C_N][MAX_EPOCHS];
  double sigma;
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

static void add(curve *x, int m, int epoch, double v) {
  if (epoch < 1 || epoch > MAX_EPOCHS || isnan(v)) return;
  int e = epoch - 1;
  if (!x->n[m][e] || v < x->lo[m][e]) x->lo[m][e] = v;
  if (!x->n[m][e] || v > x->hi[m][e]) x->hi[m][e] = v;
  x->sum[m][e] += v;
  x->n[m][e]++;
}

static void write_block(FILE *f, const curve *x, const char *who) {
  char title[96];
  if (isnan(x->sigma))
    snprintf(title, sizeof title, "%s: %s", who, x->method);
  else
    snprintf(title, sizeof title, "%s: %s sigma %g", who, x->method, x->sigma);
  fprintf(f, "epoch\t%s\tlo\thi\trank\n", title);
  for (int e = 0; e < MAX_EPOCHS; e++)
    if (x->n[C_DICE][e])
      fprintf(f, "%d\t%.6g\t%.6g\t%.6g\t%d\n", e + 1, x->sum[C_DICE][e] / x->n[C_DICE][e],
              x->lo[C_DICE][e], x->hi[C_DICE][e], rank_of(x->method));
  fputs("\n\n", f);
}

/* Our as-published runs' per-epoch validation Dice from each database. */
static int ours_from(const char *db, const st_runs *ours, const char *arch, curve *c, int *nc) {
  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "SELECT e.run_id, e.epoch, e.val_dice, e.val_loss, e.eps_prv FROM epochs e "
                       "JOIN runs r ON r.id = e.run_id WHERE r.status = 'finished' AND r.arch = "
                       "?1",
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
      for (int m = 0; k && m < C_N; m++)
        if (sqlite3_column_type(st, 2 + m) != SQLITE_NULL)
          add(k, m, sqlite3_column_int(st, 1), sqlite3_column_double(st, 2 + m));
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
    if (strcmp(cells[1], arch) != 0) continue;
    double sigma = cells[2][0] ? atof(cells[2]) : NAN;
    int ran = 0;
    for (int i = 0; i < n_ours && !ran; i++)
      ran = strcmp(ours[i].method, cells[0]) == 0 &&
            ((isnan(sigma) && isnan(ours[i].sigma)) || fabs(sigma - ours[i].sigma) < 1e-9);
    if (!ran) continue;
    curve *x = cell(c, nc, cells[0], sigma);
    static const int COL[C_N] = {6, 5, 8}; /* val_dice, val_loss, epsilon */
    for (int m = 0; x && m < C_N; m++)
      if (COL[m] < k && cells[COL[m]][0] && cells[COL[m]][0] != '\n')
        add(x, m, atoi(cells[3]), atof(cells[COL[m]]));
  }
  fclose(f);
  return 0;
}

static int last_epoch(const curve *x, int m) {
  for (int e = MAX_EPOCHS; e > 0; e--)
    if (x->n[m][e - 1]) return e;
  return 0;
}

/* One row per arm we ran: ours at our last evaluated epoch E beside the
 * study's curve at the same E (the study ran 100 epochs; a shorter run of
 * ours is compared where it stopped, not with the study's final numbers;
 * a shorter list of the study's where it ends). */
static void epoch_table(FILE *md, const char *arch, const curve *mine, int nm, const curve *theirs,
                        int nt) {
  for (int i = 0; i < nm; i++) {
    const curve *a = &mine[i], *b = NULL;
    for (int k = 0; k < nt && !b; k++)
      if (strcmp(theirs[k].method, a->method) == 0 &&
          ((isnan(a->sigma) && isnan(theirs[k].sigma)) || fabs(a->sigma - theirs[k].sigma) < 1e-9))
        b = &theirs[k];
    /* The study's validation lists can be shorter than its epochs (59 or 96
     * entries for 100 epochs): read both at the last epoch both have. */
    int E = last_epoch(a, C_DICE);
    if (b && last_epoch(b, C_DICE) && last_epoch(b, C_DICE) < E) E = last_epoch(b, C_DICE);
    if (!E || !a->n[C_DICE][E - 1]) continue;
    fprintf(md, "| %s | %s | ", arch, a->method);
    if (isnan(a->sigma))
      fputs("- | ", md);
    else
      fprintf(md, "%g | ", a->sigma);
    fprintf(md, "%d | %d | ", E, a->n[C_DICE][E - 1]);
    for (int m = 0; m < C_N; m++) {
      int e = m == C_EPS ? last_epoch(a, C_EPS) : E;
      if (m == C_EPS && isnan(a->sigma)) {
        fputs("- | - | ", md);
        continue;
      }
      if (!e || !a->n[m][e - 1]) {
        fputs("- | ", md);
      } else {
        double mean = a->sum[m][e - 1] / a->n[m][e - 1];
        if (a->n[m][e - 1] > 1 && m != C_EPS)
          fprintf(md, "%.4f [%.4f, %.4f] | ", mean, a->lo[m][e - 1], a->hi[m][e - 1]);
        else
          fprintf(md, "%.4g | ", mean);
      }
      if (!b || !e || !b->n[m][e - 1]) {
        fputs(b ? "- (its list is shorter) | " : "- (not published) | ", md);
      } else {
        double theirs_v = b->sum[m][e - 1] / b->n[m][e - 1];
        double mean = a->sum[m][e - 1] / a->n[m][e - 1];
        if (m == C_EPS)
          fprintf(md, "%.4g (%s, relative difference %.1e) | ", theirs_v,
                  fabs(mean - theirs_v) <= 1e-3 * fabs(theirs_v) ? "equal" : "**differs**",
                  fabs(mean - theirs_v) / fabs(theirs_v));
        else if (a->n[m][e - 1] > 1)
          fprintf(md, "%.4f (%s our range) | ", theirs_v,
                  theirs_v >= a->lo[m][e - 1] && theirs_v <= a->hi[m][e - 1] ? "inside"
                                                                             : "outside");
        else
          fprintf(md, "%.4f (ours %+.4f) | ", theirs_v, mean - theirs_v);
      }
    }
    fputs("\n", md);
  }
}

int st_write_curves(const char *const *dbs, int n_dbs, const st_runs *ours,
                    const char *published_curves, const char *arch, const char *path, FILE *md,
                    int *n_ours, int *n_study) {
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
  if (md) epoch_table(md, arch, mine, nm, theirs, nt);
  *n_ours = nm;
  *n_study = nt;
  return 0;
}
