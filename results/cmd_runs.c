/* Browsing the runs of a results database:
 *   clipbench runs [--filter KEY=VALUE ...] [--status S] [--sweep NAME]
 *   clipbench show RUN
 *   clipbench compare RUN RUN...
 * RUN is a run id or any unique prefix of one. Filters and the config diff
 * read the resolved configuration stored with each run (runs.config), so
 * every key of the experiment schema works without a column of its own. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "results/run_view.h"
#include "results/store_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the configuration as dotted keys --------------------------------- */

#define MAX_KEYS 256

typedef struct {
  int n;
  char *key[MAX_KEYS];
  char *val[MAX_KEYS];
} flat_config;

static void flat_free(flat_config *f) {
  for (int i = 0; i < f->n; i++) {
    free(f->key[i]);
    free(f->val[i]);
  }
  f->n = 0;
}

/* Scalars and lists of the run's config JSON, sorted by dotted key; values
 * as the experiment file would spell them (true, null, [32,32], 1e-05). */
#define DOTTED_KEY "replace(substr(t.fullkey, 3), '\"', '')" /* $.dp."clip_bound" */
#define FLAT_VALUE                                                                         \
  "CASE t.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' " \
  "WHEN 'real' THEN printf('%.15g', t.value) ELSE t.value END"

static int flatten(cb_store *s, const char *id, flat_config *f) {
  sqlite3_stmt *st;
  f->n = 0;
  if (cb_store_prepare(s,
                       "SELECT " DOTTED_KEY ", " FLAT_VALUE " FROM runs r, "
                       "json_tree(r.config) t "
                       "WHERE r.id = ?1 AND "
                       "t.type != 'object' AND "
                       "t.fullkey NOT LIKE '%]' "
                       "ORDER BY 1",
                       &st, "reading the run's configuration"))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW && f->n < MAX_KEYS) {
    f->key[f->n] = cb_strdup((const char *)sqlite3_column_text(st, 0));
    const unsigned char *v = sqlite3_column_text(st, 1);
    f->val[f->n] = cb_strdup(v ? (const char *)v : "null");
    f->n++;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : cb_store_err(s, rc, "reading the config");
}

static int is_number(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return *s && end != s && !*end;
}

/* A flattened value as JSON: lists, numbers, booleans and null as they are,
 * anything else as a string; NULL (key absent) as null. */
static void json_value(cb_json *j, const char *v) {
  double d;
  if (!v)
    cb_json_null(j);
  else if (v[0] == '[' || strcmp(v, "null") == 0 || strcmp(v, "true") == 0 ||
           strcmp(v, "false") == 0 || is_number(v, &d))
    cb_json_raw(j, v);
  else
    cb_json_str(j, v);
}

static const char *flat_get(const flat_config *f, const char *key) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->key[i], key) == 0) return f->val[i];
  return NULL;
}

/* ---- formatting -------------------------------------------------------- */

static void fmt_num(char *buf, size_t n, double v, const char *fmt) {
  if (isnan(v))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, fmt, v);
}

static void fmt_time(char *buf, size_t n, double t) {
  if (isnan(t)) {
    snprintf(buf, n, "-");
    return;
  }
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void fmt_secs(char *buf, size_t n, double s) {
  if (isnan(s))
    snprintf(buf, n, "-");
  else if (s < 120)
    snprintf(buf, n, "%.1fs", s);
  else if (s < 7200)
    snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

/* ---- clipbench runs ------------------------------------------------------ */

/* One --filter KEY<op>VALUE as SQL over runs r. Keys: status, sweep, id
 * (prefix), name, or a dotted config key; ops = != < <= > >=; VALUE a, b
 * means any of them (= and !=). */
typedef struct {
  char key[128], op[3], value[256];
} filter;

static int parse_filter(const char *arg, filter *f) {
  size_t kl = strcspn(arg, "=!<>");
  if (kl == 0 || !arg[kl] || kl >= sizeof f->key)
    return cb_error("--filter %s: expected KEY=VALUE (or KEY!=, <, <=, >, >= VALUE), e.g. "
                    "--filter dp.clipping=flat",
                    arg);
  memcpy(f->key, arg, kl);
  f->key[kl] = 0;
  const char *p = arg + kl;
  static const char *const OPS[] = {"!=", "<=", ">=", "=", "<", ">"};
  for (int i = 0; i < 6; i++)
    if (strncmp(p, OPS[i], strlen(OPS[i])) == 0) {
      snprintf(f->op, sizeof f->op, "%s", OPS[i]);
      snprintf(f->value, sizeof f->value, "%s", p + strlen(OPS[i]));
      return 0;
    }
  return cb_error("--filter %s: expected KEY=VALUE", arg);
}

/* Checks that `key` is a config key of some run; else an error with the
 * closest key. */
static int check_key(cb_store *s, const char *key) {
  static const char *const META[] = {"status", "sweep", "id", "name"};
  for (int i = 0; i < 4; i++)
    if (strcmp(key, META[i]) == 0) return 0;
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "SELECT DISTINCT " DOTTED_KEY " FROM runs r, json_tree(r.config) t "
                       "WHERE t.type != 'object' AND t.fullkey NOT LIKE '%]'",
                       &st, "reading config keys"))
    return -1;
  char *keys[MAX_KEYS + 4];
  int n = 0, found = 0, rc;
  for (int i = 0; i < 4; i++)
    keys[n++] = cb_strdup(META[i]);
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW && n < MAX_KEYS + 4) {
    const char *k = (const char *)sqlite3_column_text(st, 0);
    if (strcmp(k, key) == 0) found = 1;
    keys[n++] = cb_strdup(k);
  }
  sqlite3_finalize(st);
  int out = 0;
  if (!found && n == 4) {
    out = 0; /* no runs at all: nothing to check against, nothing matches */
  } else if (!found) {
    const char *hint = cb_did_you_mean(key, (const char *const *)keys, n);
    out = cb_error("--filter: no run has a key '%s'%s%s%s (keys: status, sweep, id, name, or a "
                   "dotted config key as clipbench show RUN prints them)",
                   key, hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
  }
  for (int i = 0; i < n; i++)
    free(keys[i]);
  return out;
}

/* Appends the filter's SQL to `sql`; binds collected in vals (as text; a
 * number binds as a number). */
typedef struct {
  char *v[64];
  int numeric[64];
  int n;
} binds;

static int filter_sql(const filter *f, char *sql, size_t cap, binds *b) {
  char lhs[300];
  if (strcmp(f->key, "status") == 0 || strcmp(f->key, "name") == 0)
    snprintf(lhs, sizeof lhs, "r.%s", f->key);
  else if (strcmp(f->key, "id") == 0)
    snprintf(lhs, sizeof lhs, "r.id");
  else if (strcmp(f->key, "sweep") == 0)
    snprintf(lhs, sizeof lhs,
             "(SELECT group_concat(w.name, char(1)) FROM sweep_runs x JOIN sweeps "
             "w ON w.id = x.sweep_id WHERE x.run_id = r.id)");
  else
    snprintf(lhs, sizeof lhs, "json_extract(r.config, '$.%s')", f->key);
  int eq = strcmp(f->op, "=") == 0, ne = strcmp(f->op, "!=") == 0;
  size_t used = strlen(sql);
  if (!eq && !ne) {
    double v;
    if (!is_number(f->value, &v))
      return cb_error("--filter %s%s%s: %s compares numbers, '%s' is not one", f->key, f->op,
                      f->value, f->op, f->value);
    if (b->n >= 64) return cb_error("too many filters");
    b->v[b->n] = cb_strdup(f->value);
    b->numeric[b->n++] = 1;
    snprintf(sql + used, cap - used, " AND %s %s ?%d", lhs, f->op, b->n);
    return 0;
  }
  /* Any of the comma-separated values (a list value [a,b] is one value). */
  char vals[256];
  snprintf(vals, sizeof vals, "%s", f->value);
  /* != keeps runs without the key (NULL): NOT coalesce(match, 0) */
  used += (size_t)snprintf(sql + used, cap - used, " AND %s(", ne ? "NOT coalesce(" : "");
  int first = 1;
  for (char *save = NULL, *v = vals[0] == '[' ? vals : strtok_r(vals, ",", &save); v;
       v = vals[0] == '[' ? NULL : strtok_r(NULL, ",", &save)) {
    while (*v == ' ')
      v++;
    char norm[256];
    size_t k = 0;
    for (const char *p = v; *p && k + 1 < sizeof norm; p++)
      if (*p != ' ' || vals[0] != '[') norm[k++] = *p; /* [32, 32] reads as [32,32] */
    norm[k] = 0;
    double num;
    const char *cond;
    if (b->n >= 64) return cb_error("too many filters");
    if (strcmp(norm, "null") == 0 || strcmp(norm, "~") == 0) {
      cond = "%s IS NULL";
    } else if (strcmp(f->key, "id") == 0) {
      b->v[b->n] = cb_strdup(norm);
      b->numeric[b->n++] = 0;
      cond = "substr(%s, 1, length(?%d)) = ?%d";
    } else if (strcmp(f->key, "sweep") == 0) {
      b->v[b->n] = cb_strdup(norm);
      b->numeric[b->n++] = 0;
      cond = "instr(char(1) || %s || char(1), char(1) || ?%d || char(1)) > 0";
    } else {
      int is_bool = strcmp(norm, "true") == 0 || strcmp(norm, "false") == 0;
      b->v[b->n] = cb_strdup(is_bool ? (norm[0] == 't' ? "1" : "0") : norm);
      b->numeric[b->n++] = is_bool || is_number(norm, &num);
      cond = "%s = ?%d";
    }
    used += (size_t)snprintf(sql + used, cap - used, "%s", first ? "" : " OR ");
    used += (size_t)snprintf(sql + used, cap - used, cond, lhs, b->n, b->n);
    first = 0;
  }
  snprintf(sql + used, cap - used, "%s", ne ? "), 0)" : ")");
  return 0;
}

static int open_db(const char *db, cb_store **s) {
  *s = cb_store_open(db, CB_STORE_READONLY);
  return *s ? 0 : -1;
}

int cb_cmd_runs(int argc, char **argv) {
  cb_cli c;
  const char *db = CB_DEFAULT_DB, *status = NULL, *sweep = NULL;
  cb_strlist filters = {0};
  int json = 0, limit = 0;
  cb_cli_init(&c, "clipbench runs", "[--db DB] [--filter KEY=VALUE ...] [options]",
              "Lists the runs of a results database, oldest first: run id, status, epochs "
              "done, architecture, clipping, noise multiplier, clip bound, epsilon and the "
              "last validation Dice. --filter takes any dotted config key (as clipbench show "
              "prints them) or status, sweep, id (a prefix), name; with = and != a value "
              "list a,b matches any of them, and <, <=, >, >= compare numbers, e.g. "
              "--filter dp.clipping=flat,per_layer --filter 'dp.noise_multiplier<=0.7'. "
              "Keys filtered on are shown as columns.");
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "filter", CB_OPT_STRLIST, &filters, "KEY=VALUE",
             "keep runs whose KEY matches (may repeat; all must hold)");
  cb_cli_add(&c, "status", CB_OPT_STR, &status, "S",
             "pending, running, finished or failed (= --filter status=S)");
  cb_cli_add(&c, "sweep", CB_OPT_STR, &sweep, "NAME", "runs of this sweep (= --filter sweep=NAME)");
  cb_cli_add(&c, "limit", CB_OPT_INT, &limit, "N", "only the N most recent runs");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON object per run and line");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;

  filter fs[CB_STRLIST_MAX + 2];
  int nf = 0;
  for (int i = 0; i < filters.n; i++)
    if (parse_filter(filters.v[i], &fs[nf++])) return -1;
  if (status) {
    static const char *const ST[] = {"pending", "running", "finished", "failed"};
    int ok = 0;
    for (int i = 0; i < 4; i++)
      ok |= strcmp(status, ST[i]) == 0;
    if (!ok)
      return cb_error("--status must be pending, running, finished or failed, got '%s'", status);
    snprintf(fs[nf].key, sizeof fs[nf].key, "status");
    snprintf(fs[nf].op, sizeof fs[nf].op, "=");
    snprintf(fs[nf++].value, sizeof fs[nf].value, "%s", status);
  }
  if (sweep) {
    snprintf(fs[nf].key, sizeof fs[nf].key, "sweep");
    snprintf(fs[nf].op, sizeof fs[nf].op, "=");
    snprintf(fs[nf++].value, sizeof fs[nf].value, "%s", sweep);
  }
  cb_store *s;
  if (open_db(db, &s)) return -1;
  char sql[8192] = "SELECT r.id FROM runs r WHERE 1";
  binds b = {0};
  rc = 0;
  for (int i = 0; !rc && i < nf; i++)
    rc = check_key(s, fs[i].key) || filter_sql(&fs[i], sql, sizeof sql, &b) ? -1 : 0;
  if (!rc && sweep) {
    int64_t sid;
    int found = cb_store_find_sweep(s, sweep, &sid);
    if (found == 0)
      rc =
          cb_error("%s: no sweep called '%s' (clipbench status --db %s lists them)", db, sweep, db);
    else if (found < 0)
      rc = -1;
  }
  size_t used = strlen(sql);
  if (limit > 0)
    snprintf(sql + used, sizeof sql - used,
             " AND r.id IN (SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT %d)",
             limit);
  used = strlen(sql);
  snprintf(sql + used, sizeof sql - used, " ORDER BY r.created_at, r.id");
  sqlite3_stmt *st = NULL;
  if (!rc) rc = cb_store_prepare(s, sql, &st, "listing runs");
  for (int i = 0; !rc && i < b.n; i++) {
    if (b.numeric[i])
      sqlite3_bind_double(st, i + 1, strtod(b.v[i], NULL));
    else
      sqlite3_bind_text(st, i + 1, b.v[i], -1, SQLITE_TRANSIENT);
  }
  /* Extra columns: the config keys filtered on that the table lacks. */
  const char *extra[CB_STRLIST_MAX];
  int ne = 0;
  for (int i = 0; i < nf; i++) {
    static const char *const SHOWN[] = {
        "status",       "sweep", "id", "name", "model.arch", "dp.clipping", "dp.noise_multiplier",
        "dp.clip_bound"};
    int shown = 0;
    for (int k = 0; k < 8; k++)
      shown |= strcmp(fs[i].key, SHOWN[k]) == 0;
    for (int k = 0; k < ne; k++)
      shown |= strcmp(fs[i].key, extra[k]) == 0;
    if (!shown) extra[ne++] = fs[i].key;
  }
  int n = 0, counts[4] = {0};
  if (!rc && !json) {
    printf("%-16s  %-8s  %7s  %-11s  %-21s  %6s  %6s  %8s  %6s", "run id", "status", "epochs",
           "arch", "clipping", "sigma", "C", "epsilon", "dice");
    for (int k = 0; k < ne; k++)
      printf("  %s", extra[k]);
    printf("  name\n");
  }
  int step;
  while (!rc && (step = cb_store_step(s, st)) == SQLITE_ROW) {
    cb_run_brief r;
    const char *id = (const char *)sqlite3_column_text(st, 0);
    if (cb_run_brief_get(s, id, &r)) {
      rc = -1;
      break;
    }
    flat_config f = {0};
    if (ne && flatten(s, id, &f)) {
      rc = -1;
      break;
    }
    n++;
    static const char *const ST[] = {"pending", "running", "finished", "failed"};
    for (int k = 0; k < 4; k++)
      counts[k] += strcmp(r.status, ST[k]) == 0;
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "run_id", r.id);
      cb_json_kv_str(&j, "name", r.name);
      cb_json_kv_str(&j, "status", r.status);
      cb_json_kv_int(&j, "epochs_done", r.epochs_done);
      cb_json_kv_int(&j, "epochs", r.epochs_total);
      cb_json_kv_str(&j, "arch", r.arch);
      cb_json_kv_str(&j, "clipping", r.clipping);
      cb_json_kv_num(&j, "noise_multiplier", r.noise_multiplier);
      cb_json_kv_num(&j, "clip_bound", r.clip_bound);
      cb_json_kv_num(&j, "epsilon", r.epsilon);
      cb_json_kv_num(&j, "delta", r.eps_delta);
      cb_json_kv_num(&j, "val_dice", r.val_dice);
      for (int k = 0; k < ne; k++) {
        cb_json_key(&j, extra[k]);
        json_value(&j, flat_get(&f, extra[k]));
      }
      cb_json_obj_end(&j);
      printf("\n");
    } else {
      char ep[16], sig[16], cb[16], eps[16], dice[16];
      snprintf(ep, sizeof ep, "%d/%d", r.epochs_done, r.epochs_total);
      fmt_num(sig, sizeof sig, r.noise_multiplier, "%.3g");
      fmt_num(cb, sizeof cb, r.clip_bound, "%.3g");
      fmt_num(eps, sizeof eps, r.epsilon, "%.4g");
      fmt_num(dice, sizeof dice, r.val_dice, "%.3f");
      printf("%-16s  %-8s  %7s  %-11s  %-21s  %6s  %6s  %8s  %6s", r.id, r.status, ep, r.arch,
             r.clipping, sig, cb, eps, dice);
      for (int k = 0; k < ne; k++) {
        const char *v = flat_get(&f, extra[k]);
        printf("  %s=%s", extra[k], v ? v : "-");
      }
      printf("  %s\n", r.name);
    }
    flat_free(&f);
  }
  if (st) sqlite3_finalize(st);
  for (int i = 0; i < b.n; i++)
    free(b.v[i]);
  if (!rc && !json)
    printf("%d run%s (%d finished, %d running, %d pending, %d failed)%s\n", n, n == 1 ? "" : "s",
           counts[2], counts[1], counts[0], counts[3],
           n ? "; details: clipbench show RUN (a unique prefix of the id will do)" : "");
  cb_store_close(s);
  return rc;
}

/* ---- clipbench show RUN -------------------------------------------------- */

static void print_epochs(cb_store *s, const char *id) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "SELECT epoch, train_loss, val_loss, val_pixel_acc, val_dice, epsilon, "
                       "frac_clipped, norm_p50, epoch_seconds FROM epochs WHERE run_id = ?1 "
                       "ORDER BY epoch",
                       &st, "reading epochs"))
    return;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  printf("epochs:\n  %5s  %10s  %10s  %8s  %8s  %9s  %8s  %9s  %8s\n", "epoch", "train_loss",
         "val_loss", "val_acc", "val_dice", "epsilon", "clipped", "norm_p50", "seconds");
  static const char *const FMT[] = {"%.4f", "%.4f", "%.4f", "%.4f", "%.4g", "%.3f", "%.4g", "%.1f"};
  static const int W[] = {10, 10, 8, 8, 9, 8, 9, 8};
  while (cb_store_step(s, st) == SQLITE_ROW) {
    printf("  %5d", sqlite3_column_int(st, 0));
    for (int k = 0; k < 8; k++) {
      char v[32];
      fmt_num(v, sizeof v,
              sqlite3_column_type(st, k + 1) == SQLITE_NULL ? NAN
                                                            : sqlite3_column_double(st, k + 1),
              FMT[k]);
      printf("  %*s", W[k], v);
    }
    printf("\n");
  }
  sqlite3_finalize(st);
}

static void print_sweeps(cb_store *s, const char *id) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "SELECT w.name, x.idx FROM sweep_runs x JOIN sweeps w ON w.id = x.sweep_id "
                       "WHERE x.run_id = ?1 ORDER BY w.name",
                       &st, "reading sweeps"))
    return;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int n = 0;
  while (cb_store_step(s, st) == SQLITE_ROW)
    printf("%s%s (position %d)", n++ ? ", " : "  sweeps      ", sqlite3_column_text(st, 0),
           sqlite3_column_int(st, 1));
  printf("%s", n ? "\n" : "  sweeps      none (clipbench run)\n");
  sqlite3_finalize(st);
}

static void json_brief(cb_json *j, const cb_run_brief *r) {
  cb_json_kv_str(j, "run_id", r->id);
  cb_json_kv_str(j, "name", r->name);
  cb_json_kv_str(j, "status", r->status);
  cb_json_kv_int(j, "epochs_done", r->epochs_done);
  cb_json_kv_int(j, "epochs", r->epochs_total);
  cb_json_kv_num(j, "epsilon", r->epsilon);
  if (r->eps_accountant[0]) cb_json_kv_str(j, "accountant", r->eps_accountant);
  cb_json_kv_num(j, "delta", r->eps_delta);
  if (r->dp_guarantee >= 0) cb_json_kv_bool(j, "dp_guarantee", r->dp_guarantee);
  if (r->dp_caveat[0]) cb_json_kv_str(j, "dp_caveat", r->dp_caveat);
  cb_json_kv_num(j, "train_loss", r->train_loss);
  cb_json_kv_int(j, "eval_epoch", r->eval_epoch);
  cb_json_kv_num(j, "val_loss", r->val_loss);
  cb_json_kv_num(j, "val_pixel_acc", r->val_pixel_acc);
  cb_json_kv_num(j, "val_dice", r->val_dice);
  cb_json_kv_num(j, "val_dice_fg", r->val_dice_fg);
  cb_json_kv_int(j, "best_epoch", r->best_epoch);
  cb_json_kv_num(j, "best_val_dice", r->best_val_dice);
  cb_json_kv_num(j, "test_dice_final", r->test_dice[0]);
  cb_json_kv_num(j, "test_dice_best_val", r->test_dice[1]);
  cb_json_kv_num(j, "seconds", r->seconds);
  if (r->error[0]) cb_json_kv_str(j, "error", r->error);
}

int cb_cmd_show(int argc, char **argv) {
  cb_cli c;
  const char *db = CB_DEFAULT_DB;
  int json = 0, no_epochs = 0;
  cb_cli_init(&c, "clipbench show", "RUN [--db DB] [options]",
              "Everything about one run: status and where it ran, epsilon with its delta, "
              "accountant and sample rate (and whether it is a DP guarantee), the final and "
              "best validation metrics, test metrics when recorded, the error of a failed "
              "run, its checkpoint and log files, the resolved configuration as dotted keys "
              "and the per-epoch table. RUN is a run id or a unique prefix of one.");
  c.max_pos = 1;
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "no-epochs", CB_OPT_FLAG, &no_epochs, NULL, "leave out the per-epoch table");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL,
             "one JSON object (summary, config; the epochs: clipbench export --query epochs)");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (c.n_pos != 1) return cb_error("missing RUN; usage: clipbench show RUN [--db DB]");
  cb_store *s;
  if (open_db(db, &s)) return -1;
  char id[CB_STORE_RUN_ID_LEN + 1];
  cb_run_brief r;
  flat_config f = {0};
  if (cb_run_resolve(s, c.pos[0], id) || cb_run_brief_get(s, id, &r) || flatten(s, id, &f)) {
    cb_store_close(s);
    return -1;
  }
  if (json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    json_brief(&j, &r);
    cb_json_kv_str(&j, "db", db);
    cb_json_key(&j, "config");
    sqlite3_stmt *st;
    if (!cb_store_prepare(s, "SELECT config FROM runs WHERE id = ?1", &st, "reading the config")) {
      sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
      if (cb_store_step(s, st) == SQLITE_ROW)
        cb_json_raw(&j, (const char *)sqlite3_column_text(st, 0));
      else
        cb_json_null(&j);
      sqlite3_finalize(st);
    }
    cb_json_obj_end(&j);
    printf("\n");
  } else {
    char line[1024], a[64], b2[64], c2[64];
    cb_run_brief_line(&r, line, sizeof line);
    printf("run %s  %s\n  status      %s\n", r.id, r.name, line);
    print_sweeps(s, id);
    fmt_time(a, sizeof a, r.created_at);
    fmt_time(b2, sizeof b2, r.started_at);
    fmt_time(c2, sizeof c2, r.finished_at);
    printf("  times       created %s, started %s, finished %s (%d attempt%s)\n", a, b2, c2,
           r.attempts, r.attempts == 1 ? "" : "s");
    fmt_secs(a, sizeof a, r.seconds);
    printf("  ran on      %s, backend %s, git %s; training time %s\n", r.host[0] ? r.host : "-",
           r.backend[0] ? r.backend : "-", r.git_rev[0] ? r.git_rev : "-", a);
    if (!isnan(r.epsilon)) {
      printf("  epsilon     %.6g at delta %g (%s accountant) after %d epochs", r.epsilon,
             r.eps_delta, r.eps_accountant, r.epochs_done);
      if (!isnan(r.sample_rate)) printf(", q = %.6g", r.sample_rate);
      if (!isnan(r.dataset_size)) printf(", N = %.0f", r.dataset_size);
      if (r.sampling[0]) printf(", %s sampling", r.sampling);
      printf("\n");
      if (r.dp_guarantee == 0)
        printf("              NOT a DP guarantee: %s\n", r.dp_caveat[0] ? r.dp_caveat : "-");
    } else if (strcmp(r.clipping, "none") == 0) {
      printf("  epsilon     none: non-private run (no privacy guarantee)\n");
    }
    if (r.eval_epoch) {
      fmt_num(a, sizeof a, r.val_dice_fg, "%.4f");
      printf("  final       epoch %d: val dice %.4f (without background %s), pixel acc %.4f, "
             "loss %.4f; train loss %.4f\n",
             r.eval_epoch, r.val_dice, a, r.val_pixel_acc, r.val_loss, r.train_loss);
      printf("  best        epoch %d: val dice %.4f\n", r.best_epoch, r.best_val_dice);
    }
    for (int k = 0; k < 2; k++)
      if (!isnan(r.test_dice[k]))
        printf("  test        %s weights (epoch %d): dice %.4f, pixel acc %.4f\n",
               k ? "best-validation" : "final", r.test_epoch[k], r.test_dice[k],
               r.test_pixel_acc[k]);
    if (r.error[0]) printf("  error       %s\n", r.error);
    if (r.checkpoint[0]) printf("  checkpoint  %s\n", r.checkpoint);
    if (r.slurm_log[0]) printf("  slurm log   %s\n", r.slurm_log);
    char logp[1200];
    const char *slash = strrchr(db, '/');
    if (slash)
      snprintf(logp, sizeof logp, "%.*s/logs/%s.log", (int)(slash - db), db, id);
    else
      snprintf(logp, sizeof logp, "logs/%s.log", id);
    FILE *lf = fopen(logp, "r");
    if (lf) {
      fclose(lf);
      printf("  log         %s\n", logp);
    }
    printf("config:\n");
    for (int i = 0; i < f.n; i++)
      printf("  %-34s %s\n", f.key[i], f.val[i]);
    if (!no_epochs) print_epochs(s, id);
  }
  flat_free(&f);
  cb_store_close(s);
  return 0;
}

/* ---- clipbench compare RUN RUN... --------------------------------------- */

#define MAX_CMP 16

int cb_cmd_compare(int argc, char **argv) {
  cb_cli c;
  const char *db = CB_DEFAULT_DB;
  int json = 0, all = 0;
  cb_cli_init(&c, "clipbench compare", "RUN RUN... [--db DB] [options]",
              "Runs side by side: the configuration keys whose values differ (a key that "
              "does not apply to a run shows -), then status, epochs, final and best "
              "validation Dice, pixel accuracy, losses, test Dice, epsilon and training "
              "time. RUN is a run id or a unique prefix of one.");
  c.max_pos = MAX_CMP;
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "all", CB_OPT_FLAG, &all, NULL, "every configuration key, not only differences");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL,
             "one JSON object: runs, config (key -> values), metrics");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (c.n_pos < 2)
    return cb_error("compare needs at least two runs; usage: clipbench compare "
                    "RUN RUN... [--db DB]");
  cb_store *s;
  if (open_db(db, &s)) return -1;
  int n = c.n_pos;
  cb_run_brief *r = cb_calloc((size_t)n, sizeof *r, "runs");
  flat_config *f = cb_calloc((size_t)n, sizeof *f, "configs");
  rc = r && f ? 0 : -1;
  for (int i = 0; !rc && i < n; i++) {
    char id[CB_STORE_RUN_ID_LEN + 1];
    rc = cb_run_resolve(s, c.pos[i], id) || cb_run_brief_get(s, id, &r[i]) || flatten(s, id, &f[i])
             ? -1
             : 0;
  }
  /* The union of keys in order of first appearance (each list is sorted). */
  const char *keys[MAX_KEYS * 2];
  int nk = 0;
  for (int i = 0; !rc && i < n; i++)
    for (int k = 0; k < f[i].n && nk < MAX_KEYS * 2; k++) {
      int dup = 0;
      for (int q = 0; q < nk && !dup; q++)
        dup = strcmp(keys[q], f[i].key[k]) == 0;
      if (!dup) keys[nk++] = f[i].key[k];
    }
  if (!rc) {
    /* sort keys */
    for (int a = 1; a < nk; a++)
      for (int b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
        const char *t = keys[b];
        keys[b] = keys[b - 1];
        keys[b - 1] = t;
      }
  }
  cb_json j;
  if (!rc && json) {
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_key(&j, "runs");
    cb_json_arr_begin(&j);
    for (int i = 0; i < n; i++) {
      cb_json_obj_begin(&j);
      json_brief(&j, &r[i]);
      cb_json_obj_end(&j);
    }
    cb_json_arr_end(&j);
    cb_json_key(&j, "config");
    cb_json_obj_begin(&j);
  } else if (!rc) {
    printf("%-28s", "");
    for (int i = 0; i < n; i++)
      printf(i + 1 < n ? "  %-16s" : "  %s", r[i].id);
    printf("\nconfig (%s):\n", all ? "every key" : "keys that differ; --all for every key");
  }
  int ndiff = 0;
  for (int k = 0; !rc && k < nk; k++) {
    const char *v0 = flat_get(&f[0], keys[k]);
    int differ = 0;
    for (int i = 1; i < n; i++) {
      const char *v = flat_get(&f[i], keys[k]);
      differ |= (!v != !v0) || (v && strcmp(v, v0) != 0);
    }
    if (strcmp(keys[k], "name") == 0 && !all) continue; /* names differ by design */
    if (!differ && !all) continue;
    ndiff += differ;
    if (json) {
      cb_json_key(&j, keys[k]);
      cb_json_arr_begin(&j);
      for (int i = 0; i < n; i++) {
        json_value(&j, flat_get(&f[i], keys[k]));
      }
      cb_json_arr_end(&j);
    } else {
      printf("  %-26s", keys[k]);
      for (int i = 0; i < n; i++) {
        const char *v = flat_get(&f[i], keys[k]);
        printf(i + 1 < n ? "  %-16s" : "  %s", v ? v : "-");
      }
      printf("\n");
    }
  }
  if (!rc && json) {
    cb_json_obj_end(&j);
    cb_json_obj_end(&j);
    printf("\n");
  } else if (!rc) {
    if (!ndiff && !all) printf("  (identical configurations)\n");
    printf("metrics:\n");
    char v[64];
    printf("  %-26s", "status");
    for (int i = 0; i < n; i++)
      printf(i + 1 < n ? "  %-16s" : "  %s", r[i].status);
    printf("\n  %-26s", "epochs");
    for (int i = 0; i < n; i++) {
      snprintf(v, sizeof v, "%d/%d", r[i].epochs_done, r[i].epochs_total);
      printf(i + 1 < n ? "  %-16s" : "  %s", v);
    }
    struct {
      const char *label, *fmt;
      size_t off;
    } rows[] = {
        {"final val_dice", "%.4f", offsetof(cb_run_brief, val_dice)},
        {"best val_dice", "%.4f", offsetof(cb_run_brief, best_val_dice)},
        {"final val_pixel_acc", "%.4f", offsetof(cb_run_brief, val_pixel_acc)},
        {"final val_loss", "%.4f", offsetof(cb_run_brief, val_loss)},
        {"final train_loss", "%.4f", offsetof(cb_run_brief, train_loss)},
        {"test dice (final weights)", "%.4f", offsetof(cb_run_brief, test_dice)},
        {"epsilon", "%.4g", offsetof(cb_run_brief, epsilon)},
        {"training seconds", "%.1f", offsetof(cb_run_brief, seconds)},
    };
    for (size_t q = 0; q < sizeof rows / sizeof rows[0]; q++) {
      printf("\n  %-26s", rows[q].label);
      for (int i = 0; i < n; i++) {
        fmt_num(v, sizeof v, *(const double *)((const char *)&r[i] + rows[q].off), rows[q].fmt);
        printf(i + 1 < n ? "  %-16s" : "  %s", v);
      }
    }
    printf("\n  %-26s", "epsilon stands on");
    for (int i = 0; i < n; i++) {
      if (!isnan(r[i].epsilon))
        snprintf(v, sizeof v, "%s d=%g%s", r[i].eps_accountant, r[i].eps_delta,
                 r[i].dp_guarantee == 0 ? " NOT DP" : "");
      else
        snprintf(v, sizeof v, "%s", strcmp(r[i].clipping, "none") == 0 ? "non-private" : "-");
      printf(i + 1 < n ? "  %-16s" : "  %s", v);
    }
    printf("\n");
  }
  if (f)
    for (int i = 0; i < n; i++)
      flat_free(&f[i]);
  free(f);
  free(r);
  cb_store_close(s);
  return rc;
}
