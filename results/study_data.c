/* The two inputs of the reproduction report: the study's published numbers
 * (a TSV of facts) and our finished runs, each classified as run "as
 * published" or "corrected" from its stored configuration. */
#include "core/base/error.h"
#include "results/store_internal.h"
#include "results/study_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static st_run *push(st_runs *r) {
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 64;
    st_run *v = realloc(r->v, (size_t)cap * sizeof *v);
    if (!v) {
      cb_error("out of memory reading runs");
      return NULL;
    }
    r->v = v;
    r->cap = cap;
  }
  st_run *x = &r->v[r->n++];
  memset(x, 0, sizeof *x);
  x->sigma = x->lr = x->train_loss = x->val_loss = x->val_dice = x->val_acc = NAN;
  x->epsilon = x->test_dice = x->eps_prv = NAN;
  x->dp_guarantee = -1;
  for (int c = 0; c < ST_CLASSES_MAX; c++)
    x->cls[c] = NAN; /* a class not stored is not a zero */
  return x;
}

void st_runs_free(st_runs *r) {
  free(r->v);
  memset(r, 0, sizeof *r);
}

/* ---- the published TSV ------------------------------------------------- */

static const char *const PUB_COLS[] = {"method",  "arch",       "sigma",
                                       "lr",      "val_loss",   "val_dice",
                                       "epsilon", "train_loss", "val_pixel_acc"};
enum { P_METHOD, P_ARCH, P_SIGMA, P_LR, P_VLOSS, P_VDICE, P_EPS, P_TLOSS, P_VACC, P_N };

/* A number cell: empty = NAN; anything else must parse whole. */
static int num_cell(const char *s, double *v) {
  if (!*s) {
    *v = NAN;
    return 0;
  }
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *end || errno ? -1 : 0;
}

int st_load_published(const char *path, st_runs *out, char *source, size_t n) {
  FILE *f = fopen(path, "r");
  if (!f)
    return cb_error("cannot read %s: %s (pass --published FILE, e.g. "
                    "docs/reproduction/published.tsv)",
                    path, strerror(errno));
  char line[4096];
  int lineno = 0, col[P_N], have_header = 0, rc = 0;
  source[0] = 0;
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == '#') {
      if (!source[0]) snprintf(source, n, "%s", line + 1 + (line[1] == ' '));
      continue;
    }
    if (!line[0]) continue;
    char *cells[64];
    int nc = 0;
    for (char *p = line; nc < 64;) {
      cells[nc++] = p;
      char *t = strchr(p, '\t');
      if (!t) break;
      *t = 0;
      p = t + 1;
    }
    if (!have_header) {
      for (int k = 0; !rc && k < P_N; k++) {
        col[k] = -1;
        for (int c = 0; c < nc; c++)
          if (strcmp(cells[c], PUB_COLS[k]) == 0) col[k] = c;
        if (col[k] < 0)
          rc = cb_error("%s:%d: the header has no column '%s' (regenerate the file with "
                        "tests/gen/study_published_facts.py)",
                        path, lineno, PUB_COLS[k]);
      }
      have_header = 1;
      continue;
    }
    st_run *x = push(out);
    if (!x) {
      rc = -1;
      break;
    }
    double v[P_N] = {0};
    for (int k = 0; !rc && k < P_N; k++) {
      if (col[k] >= nc) {
        rc = cb_error("%s:%d: %d columns, the header has more (one row per arm, tab separated)",
                      path, lineno, nc);
      } else if (k != P_METHOD && k != P_ARCH && num_cell(cells[col[k]], &v[k])) {
        rc = cb_error("%s:%d: column %s is '%s', not a number", path, lineno, PUB_COLS[k],
                      cells[col[k]]);
      }
    }
    if (rc) break;
    snprintf(x->method, sizeof x->method, "%s", cells[col[P_METHOD]]);
    snprintf(x->arch, sizeof x->arch, "%s", cells[col[P_ARCH]]);
    x->sigma = v[P_SIGMA];
    x->lr = v[P_LR];
    x->val_loss = v[P_VLOSS];
    x->val_dice = v[P_VDICE];
    x->val_acc = v[P_VACC];
    x->train_loss = v[P_TLOSS];
    x->epsilon = v[P_EPS];
    x->proc = -1;
    x->seed = 0;
  }
  fclose(f);
  if (!rc && !have_header) rc = cb_error("%s: no header line (method, arch, sigma, ...)", path);
  return rc;
}

/* ---- our runs ---------------------------------------------------------- */

/* The switches of issue 14 that make a run "as published". A run is as
 * published when every switch that applies to it has its published value,
 * corrected when none has, mixed otherwise (reported apart, never pooled).
 * A key absent from the stored configuration is at its default (keys that
 * change nothing at their default stay out of the stored JSON). data.split.by
 * folders and data.label_map duke_10_to_9 are not switches here: both
 * studies run on the published folders with the study's 9 classes. */
typedef struct {
  const char *path, *published;
  int private_only; /* the sample-rate rule means nothing without noise */
  int rs_only;
} st_switch;

static const st_switch SWITCHES[] = {
    {"$.train.sampling", "shuffle", 0, 0},
    {"$.loss.reduction", "batch", 0, 0},
    {"$.data.normalise", "fixed", 0, 0},
    {"$.data.mask_resize", "bilinear_round", 0, 0},
    {"$.metrics.dice", "per_image", 0, 0},
    {"$.dp.sample_rate", "opacus", 1, 0},
    {"$.dp.sparsification.as_published", "1", 1, 1}, /* json true reads as 1 */
};
#define N_SWITCHES (int)(sizeof SWITCHES / sizeof SWITCHES[0])

static const char *method_of(const char *clipping) {
  return strcmp(clipping, "none") == 0 ? "nonprivate" : clipping;
}

static double col_num(sqlite3_stmt *st, int k) {
  return sqlite3_column_type(st, k) == SQLITE_NULL ? NAN : sqlite3_column_double(st, k);
}

int st_load_runs(const char *db, st_runs *out) {
  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  /* The final evaluated epoch's validation columns, the last epoch's epsilon
   * and training loss, the test split with the final weights when stored. */
  char sql[4096];
  int u = snprintf(sql, sizeof sql,
                   "SELECT r.id, r.arch, r.clipping, r.noise_multiplier, r.lr, r.seed, "
                   "r.dp_guarantee, v.epoch, v.val_loss, v.val_dice, v.val_pixel_acc, "
                   "l.train_loss, l.epsilon, t.dice, l.eps_prv");
  for (int k = 0; k < N_SWITCHES; k++)
    u += snprintf(sql + u, sizeof sql - (size_t)u, ", json_extract(r.config, '%s')",
                  SWITCHES[k].path);
  /* The configuration besides the cell (see st_run.scale and .rest). */
  u +=
      snprintf(sql + u, sizeof sql - (size_t)u,
               ", json_extract(r.config, '$.data.size[0]'), json_extract(r.config, "
               "'$.data.size[1]'), json_extract(r.config, '$.model.width'), "
               "json_extract(r.config, '$.model.depth'), json_extract(r.config, "
               "'$.train.batch_size'), json_extract(r.config, '$.train.epochs'), "
               "printf('optimizer %%s momentum %%s weight decay %%s, groups %%s, bias %%s, up %%s, "
               "loss ce %%s dice %%s', json_extract(r.config, "
               "'$.train.optimizer'), json_extract(r.config, '$.train.momentum'), "
               "json_extract(r.config, '$.train.weight_decay'), json_extract(r.config, "
               "'$.model.groups'), json_extract(r.config, '$.model.bias'), "
               "json_extract(r.config, '$.model.up'), json_extract(r.config, "
               "'$.loss.ce_weight'), json_extract(r.config, '$.loss.dice_weight')), "
               "printf('clip bound %%s, delta %%s', json_extract(r.config, '$.dp.clip_bound'), "
               "json_extract(r.config, '$.dp.delta'))");
  snprintf(sql + u, sizeof sql - (size_t)u,
           " FROM runs r"
           " LEFT JOIN epochs v ON v.run_id = r.id AND v.epoch = (SELECT max(epoch) FROM epochs"
           "   WHERE run_id = r.id AND val_dice IS NOT NULL)"
           " LEFT JOIN epochs l ON l.run_id = r.id AND l.epoch = (SELECT max(epoch) FROM epochs"
           "   WHERE run_id = r.id)"
           " LEFT JOIN test_metrics t ON t.run_id = r.id AND t.weights = 'final'"
           " WHERE r.status = 'finished' ORDER BY r.arch, r.clipping, r.noise_multiplier, r.lr,"
           " r.seed, r.id");
  sqlite3_stmt *st, *cls;
  if (cb_store_prepare(s, sql, &st, "reading runs")) {
    cb_store_close(s);
    return -1;
  }
  if (cb_store_prepare(s,
                       "SELECT class, dice FROM epoch_classes WHERE run_id = ?1 AND epoch = ?2 "
                       "ORDER BY class",
                       &cls, "reading per-class Dice")) {
    sqlite3_finalize(st);
    cb_store_close(s);
    return -1;
  }
  int rc = 0, step;
  while ((step = cb_store_step(s, st)) == SQLITE_ROW) {
    st_run *x = push(out);
    if (!x) {
      rc = -1;
      break;
    }
    snprintf(x->id, sizeof x->id, "%s", (const char *)sqlite3_column_text(st, 0));
    const unsigned char *arch = sqlite3_column_text(st, 1);
    snprintf(x->arch, sizeof x->arch, "%s", arch ? (const char *)arch : "?");
    const char *clip = (const char *)sqlite3_column_text(st, 2);
    snprintf(x->method, sizeof x->method, "%s", method_of(clip ? clip : "none"));
    int private_run = strcmp(x->method, "nonprivate") != 0;
    x->sigma = private_run ? col_num(st, 3) : NAN;
    x->lr = col_num(st, 4);
    x->seed = sqlite3_column_int(st, 5);
    x->dp_guarantee = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6);
    x->val_loss = col_num(st, 8);
    x->val_dice = col_num(st, 9);
    x->val_acc = col_num(st, 10);
    x->train_loss = col_num(st, 11);
    x->epsilon = private_run ? col_num(st, 12) : NAN;
    x->test_dice = col_num(st, 13);
    x->eps_prv = private_run ? col_num(st, 14) : NAN;
    int published = 0, applicable = 0;
    for (int k = 0; k < N_SWITCHES; k++) {
      const st_switch *w = &SWITCHES[k];
      if (w->private_only && !private_run) continue;
      if (w->rs_only && strcmp(x->method, "random_sparsification") != 0) continue;
      applicable++;
      const unsigned char *v = sqlite3_column_text(st, 15 + k);
      if (v && strcmp((const char *)v, w->published) == 0) published++;
    }
    int c0 = 15 + N_SWITCHES;
    x->epochs = sqlite3_column_int(st, c0 + 5);
    if (sqlite3_column_type(st, c0) == SQLITE_NULL) /* a configuration without data.size */
      snprintf(x->scale, sizeof x->scale, "not stored with the run");
    else
      snprintf(x->scale, sizeof x->scale, "%dx%d px, width %d, depth %d, batch %d, %d epochs",
               sqlite3_column_int(st, c0), sqlite3_column_int(st, c0 + 1),
               sqlite3_column_int(st, c0 + 2), sqlite3_column_int(st, c0 + 3),
               sqlite3_column_int(st, c0 + 4), x->epochs);
    const unsigned char *rest = sqlite3_column_text(st, c0 + 6);
    snprintf(x->rest, sizeof x->rest, "%s", rest ? (const char *)rest : "");
    const unsigned char *dp = sqlite3_column_text(st, c0 + 7);
    snprintf(x->dp_rest, sizeof x->dp_rest, "%s", dp ? (const char *)dp : "");
    x->proc = published == 0            ? ST_CORRECTED
              : published == applicable ? ST_PUBLISHED_PROC
                                        : ST_MIXED;
    if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
      sqlite3_bind_text(cls, 1, x->id, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(cls, 2, sqlite3_column_int(st, 7));
      while (cb_store_step(s, cls) == SQLITE_ROW) {
        int c = sqlite3_column_int(cls, 0);
        if (c < 0 || c >= ST_CLASSES_MAX) continue;
        x->cls[c] = col_num(cls, 1);
        if (c + 1 > x->n_classes) x->n_classes = c + 1;
      }
      sqlite3_reset(cls);
    }
  }
  if (!rc && step != SQLITE_DONE) rc = cb_store_err(s, step, "reading runs");
  sqlite3_finalize(cls);
  sqlite3_finalize(st);
  cb_store_close(s);
  return rc;
}

int st_check_one_configuration(const st_runs *ours) {
  static const char *const PROC[] = {"as-published", "corrected", "mixed"};
  for (int i = 0; i < ours->n; i++) {
    const st_run *a = &ours->v[i];
    for (int k = 0; k < i; k++) {
      const st_run *b = &ours->v[k];
      if (b->proc != a->proc || strcmp(b->arch, a->arch) != 0) continue;
      int same_scale = strcmp(a->scale, b->scale) == 0;
      int same_rest = strcmp(a->rest, b->rest) == 0;
      if (same_scale && same_rest) { /* a agrees with the first run, so with all */
        /* The clip bound and delta mean nothing without noise: compared
         * between private runs only. */
        if (strcmp(a->method, "nonprivate") == 0) break;
        const st_run *p = NULL;
        for (int j = 0; j < i && !p; j++)
          if (ours->v[j].proc == a->proc && strcmp(ours->v[j].arch, a->arch) == 0 &&
              strcmp(ours->v[j].method, "nonprivate") != 0)
            p = &ours->v[j];
        if (!p || strcmp(p->dp_rest, a->dp_rest) == 0) break;
        b = p;
      }
      const char *wa = !same_scale ? a->scale : !same_rest ? a->rest : a->dp_rest;
      const char *wb = !same_scale ? b->scale : !same_rest ? b->rest : b->dp_rest;
      return cb_error("report --study: %s %s runs %s (%s) and %s (%s) differ in more than arch, "
                      "method, sigma, lr and seed, so they cannot be pooled; report each "
                      "configuration from its own database",
                      PROC[a->proc], a->arch, b->id, wb, a->id, wa);
    }
  }
  return 0;
}

/* ---- statistics over seeds --------------------------------------------- */

double st_t95(double df) {
  /* Two-sided 97.5% quantiles of Student's t, df = 1..30; the normal beyond. */
  static const double T[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                             2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (!(df >= 1)) return NAN;
  int d = (int)floor(df); /* rounding df down keeps the interval conservative */
  return d <= 30 ? T[d - 1] : 1.960;
}

void st_mean_ci(const double *x, int n, double *mean, double *half) {
  double m = 0, ss = 0;
  for (int i = 0; i < n; i++)
    m += x[i];
  m = n ? m / n : NAN;
  for (int i = 0; i < n; i++)
    ss += (x[i] - m) * (x[i] - m);
  *mean = m;
  *half = n >= 2 ? st_t95(n - 1) * sqrt(ss / (n - 1) / n) : NAN;
}

static int same_sigma(double a, double b) {
  return (isnan(a) && isnan(b)) || (!isnan(a) && !isnan(b) && fabs(a - b) < 1e-9);
}

static int same_lr(double want, double have) {
  return isnan(want) || (!isnan(have) && fabs(want - have) <= 1e-9 * fabs(want));
}

static double metric(const st_run *x, st_metric m) {
  switch (m) {
  case M_VAL_DICE: return x->val_dice;
  case M_VAL_ACC: return x->val_acc;
  case M_VAL_LOSS: return x->val_loss;
  case M_TRAIN_LOSS: return x->train_loss;
  case M_EPSILON: return x->epsilon;
  case M_EPS_PRV: return x->eps_prv;
  case M_TEST_DICE: return x->test_dice;
  }
  return NAN;
}

static int in_cell(const st_run *x, int proc, const char *arch, const char *method, double sigma) {
  return x->proc == proc && (!arch || strcmp(x->arch, arch) == 0) &&
         (!method || strcmp(x->method, method) == 0) && same_sigma(sigma, x->sigma);
}

int st_values(const st_runs *r, int proc, const char *arch, const char *method, double sigma,
              double lr, st_metric m, double *out, int max) {
  int n = 0;
  for (int i = 0; i < r->n && n < max; i++) {
    const st_run *x = &r->v[i];
    if (!in_cell(x, proc, arch, method, sigma) || !same_lr(lr, x->lr)) continue;
    double v = metric(x, m);
    if (!isnan(v)) out[n++] = v;
  }
  return n;
}

double st_best_lr(const st_runs *r, int proc, const char *arch, const char *method, double sigma) {
  double best = NAN, best_mean = -INFINITY;
  for (int i = 0; i < r->n; i++) {
    const st_run *x = &r->v[i];
    if (!in_cell(x, proc, arch, method, sigma) || isnan(x->lr)) continue;
    double v[256], mean, half;
    int n = st_values(r, proc, arch, method, sigma, x->lr, M_VAL_DICE, v, 256);
    st_mean_ci(v, n, &mean, &half);
    if (n && mean > best_mean) {
      best_mean = mean;
      best = x->lr;
    }
  }
  return best;
}

int st_has_lr_axis(const st_runs *r, int proc, const char *arch, const char *method, double sigma) {
  double first = NAN;
  for (int i = 0; i < r->n; i++) {
    const st_run *x = &r->v[i];
    if (!in_cell(x, proc, arch, method, sigma) || isnan(x->lr)) continue;
    if (isnan(first))
      first = x->lr;
    else if (!same_lr(first, x->lr))
      return 1;
  }
  return 0;
}
