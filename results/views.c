/* The named export queries as SQL views, so that sqlite3, pandas
 * (read_sql("SELECT * FROM q_arms", con)) and R users get the same tables as
 * `clipbench export --query arms` without our binary: view q_NAME is query
 * NAME over every run (:sweep and :by read as NULL; filter a sweep with a
 * join on sweep_runs). Opening a database brings the views up to date with
 * this clipbench's queries; nothing is written when they already are. */
#include "core/base/error.h"
#include "results/export.h"
#include "results/store_internal.h"

#include <stdlib.h>
#include <string.h>

/* "CREATE VIEW q_NAME AS " + sql with the parameters as NULL (malloc'ed). */
static char *view_sql(const cb_export_query *q) {
  size_t cap = strlen(q->sql) * 2 + 64;
  char *out = cb_malloc(cap, "view");
  if (!out) return NULL;
  size_t u = (size_t)snprintf(out, cap, "CREATE VIEW q_%s AS ", q->name);
  for (const char *p = q->sql; *p;) {
    if (!strncmp(p, ":sweep", 6) || !strncmp(p, ":by", 3)) {
      memcpy(out + u, "NULL", 4);
      u += 4;
      p += p[1] == 's' ? 6 : 3;
    } else {
      out[u++] = *p++;
    }
  }
  out[u] = 0;
  return out;
}

/* 1 when view q_NAME exists with exactly this text, 0 when not, -1 on error. */
static int view_current(cb_store *s, const cb_export_query *q, const char *want) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'q_' || ?1",
                       &st, "reading the views"))
    return -1;
  sqlite3_bind_text(st, 1, q->name, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st), same = 0;
  if (rc == SQLITE_ROW) same = strcmp((const char *)sqlite3_column_text(st, 0), want) == 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return cb_store_err(s, rc, "reading the views");
  return same;
}

int cb_store_sync_views(cb_store *s) {
  int stale = 0;
  for (int i = 0; i < CB_N_EXPORT_QUERIES && !stale; i++) {
    char *sql = view_sql(&CB_EXPORT_QUERIES[i]);
    if (!sql) return -1;
    int cur = view_current(s, &CB_EXPORT_QUERIES[i], sql);
    free(sql);
    if (cur < 0) return -1;
    stale = !cur;
  }
  if (!stale) return 0;
  if (cb_store_exec(s, "BEGIN IMMEDIATE", "locking the database to update its views")) return -1;
  int ok = 1;
  for (int i = 0; ok && i < CB_N_EXPORT_QUERIES; i++) {
    char *sql = view_sql(&CB_EXPORT_QUERIES[i]), drop[96];
    if (!sql) {
      ok = 0;
      break;
    }
    snprintf(drop, sizeof drop, "DROP VIEW IF EXISTS q_%s", CB_EXPORT_QUERIES[i].name);
    ok = cb_store_exec(s, drop, "updating the views") == 0 &&
         cb_store_exec(s, sql, "creating the views") == 0;
    free(sql);
  }
  if (!ok || cb_store_exec(s, "COMMIT", "committing the views")) {
    sqlite3_exec(cb_store_db(s), "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}
