/* The reproduction report's provenance: which sweep of which database made
 * the runs it reads, with which clipbench revision, on which hosts and
 * backend, and how long they took (the issue asks for the exact commands,
 * wall time and revision beside every committed report). Every value comes
 * from the runs table; a run outside any sweep is listed as a single run. */
#include "core/base/error.h"
#include "results/store_internal.h"
#include "results/study_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void fmt_seconds(double s, char *buf, size_t n) {
  if (isnan(s) || s < 0)
    snprintf(buf, n, "-");
  else if (s < 120)
    snprintf(buf, n, "%.0f s", s);
  else if (s < 7200)
    snprintf(buf, n, "%.1f min", s / 60);
  else
    snprintf(buf, n, "%.2f h", s / 3600);
}

static const char *txt(sqlite3_stmt *st, int k) {
  const unsigned char *t = sqlite3_column_text(st, k);
  return t ? (const char *)t : "-";
}

static int one_db(FILE *md, const char *db) {
  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  /* Finished runs per sweep (NULL: not in a sweep); a run in two sweeps of
   * one database is listed under the first that froze it. Training time is
   * the sum of the epochs' own seconds; wall clock the span from the first
   * start to the last finish, so it includes parallel workers' overlap. */
  const char *sql =
      "WITH f AS (SELECT r.*, (SELECT sw.name FROM sweep_runs x JOIN sweeps sw ON sw.id = "
      "x.sweep_id WHERE x.run_id = r.id ORDER BY sw.id LIMIT 1) AS sweep, (SELECT sw.file FROM "
      "sweep_runs x JOIN sweeps sw ON sw.id = x.sweep_id WHERE x.run_id = r.id ORDER BY sw.id "
      "LIMIT 1) AS file, (SELECT sum(e.epoch_seconds) FROM epochs e WHERE e.run_id = r.id) AS "
      "train_s FROM runs r WHERE r.status = 'finished')"
      " SELECT sweep, file, count(*), group_concat(DISTINCT git_rev), group_concat(DISTINCT "
      "host), group_concat(DISTINCT backend), sum(train_s), max(finished_at) - min(started_at),"
      " strftime('%Y-%m-%d %H:%M', min(started_at), 'unixepoch'), strftime('%Y-%m-%d %H:%M', "
      "max(finished_at), 'unixepoch')"
      " FROM f GROUP BY sweep ORDER BY min(started_at)";
  sqlite3_stmt *st;
  if (cb_store_prepare(s, sql, &st, "reading the runs' provenance")) {
    cb_store_close(s);
    return -1;
  }
  int step;
  while ((step = cb_store_step(s, st)) == SQLITE_ROW) {
    char train[32], wall[32];
    fmt_seconds(sqlite3_column_type(st, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 6),
                train, sizeof train);
    fmt_seconds(sqlite3_column_type(st, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 7),
                wall, sizeof wall);
    int in_sweep = sqlite3_column_type(st, 0) != SQLITE_NULL;
    fprintf(md, "| `%s` | %s%s%s | %s%s%s | %d | %s | %s | %s | %s | %s | %s UTC to %s UTC |\n", db,
            in_sweep ? "`" : "", in_sweep ? txt(st, 0) : "(single runs)", in_sweep ? "`" : "",
            in_sweep ? "`" : "", in_sweep ? txt(st, 1) : "-", in_sweep ? "`" : "",
            sqlite3_column_int(st, 2), txt(st, 3), txt(st, 4), txt(st, 5), train, wall, txt(st, 8),
            txt(st, 9));
  }
  int rc = step == SQLITE_DONE ? 0 : cb_store_err(s, step, "reading the runs' provenance");
  sqlite3_finalize(st);
  cb_store_close(s);
  return rc;
}

int st_provenance(FILE *md, const char *const *dbs, int n_dbs) {
  fputs("## How these runs were made\n\n"
        "Per database and sweep: finished runs, the clipbench revision(s), hosts and backend "
        "stored with them, training time (the sum of every epoch's seconds over the runs) and "
        "wall clock (first start to last finish, parallel workers overlapping). Rerun a sweep "
        "with `clipbench sweep FILE --db DB` (plus the `--set data.path=...` of your copy of "
        "the data).\n\n"
        "| database | sweep | file | runs | clipbench | hosts | backend | training time | wall "
        "clock | when |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        md);
  for (int i = 0; i < n_dbs; i++)
    if (one_db(md, dbs[i])) return -1;
  fputs("\n", md);
  return 0;
}
