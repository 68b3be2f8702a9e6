/* clipbench epsilon --run ID: a stored run's epsilon recomputed from what
 * the database holds (runs.sample_rate, and per epoch the cumulative
 * accountant steps epochs.step and the noise multiplier in force), next to
 * the values the run recorded. The history is rebuilt segment by segment
 * with the same doubles the run gave its accountant, so the two agree
 * exactly unless the accountant code changed since. */
#include "results/run_epsilon.h"

#include "core/base/error.h"
#include "core/base/json.h"
#include "results/store_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  double q, delta;
  long long N;
  char name[128], sampling[16], caveat[512], clipping[32];
  int has_q, guarantee; /* guarantee: 1, 0, or -1 when NULL */
  cb_history h;
  double stored[CB_ACC_COUNT]; /* last epoch's stored epsilons */
  int epochs;
} run_facts;

static double num(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void text(sqlite3_stmt *st, int i, char *buf, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(buf, n, "%s", t ? (const char *)t : "");
}

static int load_facts(cb_store *s, const char *id, run_facts *f) {
  sqlite3_stmt *st;
  const char *what = "reading a run's sampling";
  if (cb_store_prepare(s,
                       "SELECT name, sample_rate, dataset_size, sampling, dp_guarantee, "
                       "dp_caveat, delta, clipping FROM runs WHERE id = ?",
                       &st, what))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st);
  if (rc == SQLITE_ROW) {
    text(st, 0, f->name, sizeof f->name);
    f->has_q = sqlite3_column_type(st, 1) != SQLITE_NULL;
    f->q = num(st, 1);
    f->N = sqlite3_column_int64(st, 2);
    text(st, 3, f->sampling, sizeof f->sampling);
    f->guarantee = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4);
    text(st, 5, f->caveat, sizeof f->caveat);
    f->delta = num(st, 6);
    text(st, 7, f->clipping, sizeof f->clipping);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE)
    return cb_error("%s: no run %s (clipbench status --db %s lists the runs)", cb_store_path(s), id,
                    cb_store_path(s));
  if (rc != SQLITE_ROW) return cb_store_err(s, rc, what);
  if (strcmp(f->clipping, "none") == 0)
    return cb_error("%s: run %s is non-private (dp.clipping: none): it spends no epsilon",
                    cb_store_path(s), id);
  if (!f->has_q)
    return cb_error("%s: run %s has no stored sample rate (it ran before clipbench recorded "
                    "one); run it again, or give --sample-rate, --steps and --sigma yourself",
                    cb_store_path(s), id);

  what = "reading a run's epochs";
  if (cb_store_prepare(s,
                       "SELECT epoch, step, noise_multiplier, eps_rdp, eps_prv, eps_gdp "
                       "FROM epochs WHERE run_id = ? ORDER BY epoch",
                       &st, what))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  long long prev = 0;
  int ok = 1;
  while (ok && (rc = cb_store_step(s, st)) == SQLITE_ROW) {
    int epoch = sqlite3_column_int(st, 0);
    long long step = sqlite3_column_int64(st, 1);
    double sigma = num(st, 2);
    if (sqlite3_column_type(st, 1) == SQLITE_NULL || isnan(sigma) || step < prev) {
      cb_error("%s: run %s, epoch %d: the stored step count or noise multiplier is missing or "
               "out of order; the epsilon cannot be recomputed",
               cb_store_path(s), id, epoch);
      ok = 0;
      break;
    }
    if (cb_history_add(&f->h, sigma, f->q, step - prev)) {
      cb_error_prefix("%s: run %s, epoch %d: ", cb_store_path(s), id, epoch);
      ok = 0;
      break;
    }
    prev = step;
    for (int a = 0; a < CB_ACC_COUNT; a++)
      f->stored[a] = num(st, 3 + a);
    f->epochs = epoch;
  }
  if (ok && rc != SQLITE_DONE) ok = cb_store_err(s, rc, what) == 0;
  sqlite3_finalize(st);
  if (ok && f->epochs == 0)
    return cb_error("%s: run %s has no finished epoch yet: nothing spent", cb_store_path(s), id);
  return ok ? 0 : -1;
}

int cb_run_epsilon_print(const char *db, const char *id, int accountant, double delta, int json) {
  cb_store *s = cb_store_open(db, 0);
  if (!s) return -1;
  run_facts f;
  memset(&f, 0, sizeof f);
  cb_history_init(&f.h);
  int rc = load_facts(s, id, &f);
  cb_store_close(s);
  if (rc) {
    cb_history_free(&f.h);
    return -1;
  }
  int own_delta = !isnan(delta);
  if (!own_delta) delta = f.delta;
  long long T = cb_history_steps(&f.h);
  char *hist = cb_history_to_json(&f.h);
  if (!hist) {
    cb_history_free(&f.h);
    return -1;
  }
  if (!json) {
    printf("run %s (%s): q = %.6g (N = %lld, %s sampling), %lld steps over %d epochs, "
           "delta = %g\nsigma history [[sigma,q,steps],...]: %s\n",
           id, f.name, f.q, f.N, f.sampling[0] ? f.sampling : "?", T, f.epochs, delta, hist);
    if (f.guarantee == 0)
      printf("NOT A DP GUARANTEE: %s\n", f.caveat[0] ? f.caveat : "(no reason stored)");
    printf("\n%-10s  %-12s  %-12s  %s\n", "accountant", "epsilon", "stored", "what the number is");
  }
  int first = accountant < 0 ? 0 : accountant,
      last = accountant < 0 ? CB_ACC_COUNT - 1 : accountant;
  for (int a = first; a <= last && !rc; a++) {
    cb_eps_result r;
    if (cb_epsilon(&f.h, (cb_accountant)a, delta, &r)) {
      rc = -1;
      break;
    }
    /* The stored value was computed at the run's delta; with another
     * delta there is nothing to compare. */
    double stored = own_delta ? NAN : f.stored[a];
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "run", id);
      cb_json_kv_str(&j, "accountant", cb_accountant_name(r.accountant));
      cb_json_kv_str(&j, "requested", cb_accountant_name(r.requested));
      cb_json_kv_num(&j, "epsilon", r.epsilon);
      cb_json_kv_num(&j, "stored_epsilon", stored);
      cb_json_kv_num(&j, "delta", r.delta);
      cb_json_kv_num(&j, "alpha", r.alpha);
      cb_json_kv_bool(&j, "guarantee", r.is_guarantee && f.guarantee == 1);
      cb_json_kv_str(&j, "kind", r.is_guarantee ? "upper_bound" : "approximation");
      cb_json_kv_num(&j, "sample_rate", f.q);
      cb_json_kv_int(&j, "dataset_size", f.N);
      cb_json_kv_str(&j, "sampling", f.sampling);
      cb_json_kv_int(&j, "steps", T);
      cb_json_kv_int(&j, "epochs", f.epochs);
      cb_json_key(&j, "history");
      cb_json_raw(&j, hist);
      cb_json_kv_str(&j, "dp_caveat", f.guarantee == 0 ? f.caveat : "");
      cb_json_kv_str(&j, "note", r.note);
      cb_json_obj_end(&j);
      printf("\n");
      continue;
    }
    char eb[32], sb[32];
    snprintf(eb, sizeof eb, "%.6g", r.epsilon);
    if (isnan(stored))
      snprintf(sb, sizeof sb, "-");
    else
      snprintf(sb, sizeof sb, "%.6g%s", stored, stored == r.epsilon ? "" : " (differs)");
    printf("%-10s  %-12s  %-12s  %s\n", cb_accountant_name(r.requested), eb, sb,
           r.accountant == CB_ACC_GDP ? "APPROXIMATION (GDP/CLT): can underestimate, not a "
                                        "guarantee"
                                      : r.note);
  }
  free(hist);
  cb_history_free(&f.h);
  return rc;
}
