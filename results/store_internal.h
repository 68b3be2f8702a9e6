/* Internal to results/: the store's connection state, error mapping,
 * transaction helpers and the migration list. */
#ifndef CB_RESULTS_STORE_INTERNAL_H
#define CB_RESULTS_STORE_INTERNAL_H

#include "results/store.h"

#include <sqlite3.h>

/* 'CBR1' in the database header marks a clipbench results file. */
#define CB_STORE_APPLICATION_ID 1128419889

typedef struct {
  int version;
  const char *what; /* one line, for messages */
  const char *sql;
} cb_migration;

extern const cb_migration CB_MIGRATIONS[];
extern const int CB_N_MIGRATIONS;

struct cb_store {
  sqlite3 *db;
  char *path;
  int version;  /* schema version of the file */
  int tx_depth; /* >0 inside cb_store_begin */
  double lock_timeout_s;
  int have_identity; /* dev/ino of the file when it was opened */
  unsigned long long dev, ino;
};

/* Opens with an explicit migration list (tests simulate older and newer
 * code with it). */
cb_store *cb_store_open_with(const char *path, int flags, const cb_migration *m, int n);

/* cb_store_merge (results/merge.h) opening the shard with an explicit
 * migration list (tests simulate an older shard with it). */
typedef struct cb_merge_stats cb_merge_stats;
int cb_store_merge_with(cb_store *s, const char *shard, const cb_migration *m, int n,
                        cb_merge_stats *st);

/* Records "PATH: WHAT: sqlite message (fix)" for result code rc; returns -1. */
int cb_store_err(cb_store *s, int rc, const char *what);
/* Runs sql (no results), retrying while the database is locked. */
int cb_store_exec(cb_store *s, const char *sql, const char *what);
/* Prepares sql or records the error. */
int cb_store_prepare(cb_store *s, const char *sql, sqlite3_stmt **st, const char *what);
/* Steps a statement, retrying SQLITE_BUSY up to the lock timeout (only
 * valid for statements that can be re-run: inside a transaction that holds
 * the write lock they never see BUSY). */
int cb_store_step(cb_store *s, sqlite3_stmt *st);

/* Own transaction unless one is open: tx_start returns 1 when it began one,
 * 0 when joining, -1 on error; tx_finish commits (ok) or rolls back what
 * tx_start began and returns ok ? 0 : -1 (or -1 when the commit fails). */
int cb_store_tx_start(cb_store *s);
int cb_store_tx_finish(cb_store *s, int began, int ok);

/* Binds a double, NaN as NULL. */
int cb_store_bind_num(sqlite3_stmt *st, int i, double v);
double cb_store_now(void);

#endif
