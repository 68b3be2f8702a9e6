/* Opening the results database: connection settings, schema creation and
 * migration, error messages, locking retries and transactions. */
#include "core/base/error.h"
#include "core/base/version.h"
#include "results/store_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000

double cb_store_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&ts, NULL);
}

static int is_busy(int rc) {
  return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

#define NFS_FIX                                                                            \
  "locking error; SQLite databases must be on a local disk, not NFS/Lustre (on a cluster " \
  "give each task its own database and merge them)"

/* The errno behind an I/O error. SQLite keeps the one of the file that
 * failed, but sqlite3_system_errno() reports errno as it is afterwards, which
 * a failing write to the -wal file has often lost. So a write error is also
 * checked against the state it leaves: a file system with (almost) no space
 * left is ENOSPC, a database or -wal file at the file size limit is EFBIG. */
static int io_errno(const cb_store *s, int rc) {
  int e = s && s->db ? sqlite3_system_errno(s->db) : 0;
  if (cb_io_explain(e) || !s || !s->path) return e;
  if (rc != SQLITE_IOERR_WRITE && rc != SQLITE_IOERR_FSYNC && rc != SQLITE_IOERR_TRUNCATE &&
      rc != SQLITE_IOERR_SHORT_READ && rc != SQLITE_IOERR)
    return e;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", s->path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    slash == dir ? (void)(dir[1] = 0) : (void)(*slash = 0);
  struct statvfs vf;
  if (statvfs(dir, &vf) == 0 && (double)vf.f_bavail * (double)vf.f_frsize < 1024.0 * 1024.0)
    return ENOSPC;
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    static const char *const ext[] = {"", "-wal", "-journal"};
    for (int k = 0; k < 3; k++) {
      char f[PATH_MAX + 16];
      struct stat sb;
      snprintf(f, sizeof f, "%s%s", s->path, ext[k]);
      if (stat(f, &sb) == 0 && (double)sb.st_size + 65536.0 >= (double)rl.rlim_cur) return EFBIG;
    }
  }
  return e;
}

/* What the operating system said decides the explanation of an I/O error: a
 * full disk or a size limit is no network file system problem; only locking
 * and shared-memory errors point at one. */
static const char *io_fix(const cb_store *s, int rc) {
  int e = io_errno(s, rc);
  if (cb_io_explain(e)) return cb_io_explain(e);
  switch (rc) {
  case SQLITE_IOERR_LOCK:
  case SQLITE_IOERR_RDLOCK:
  case SQLITE_IOERR_UNLOCK:
  case SQLITE_IOERR_CHECKRESERVEDLOCK:
  case SQLITE_IOERR_SHMOPEN:
  case SQLITE_IOERR_SHMSIZE:
  case SQLITE_IOERR_SHMLOCK:
  case SQLITE_IOERR_SHMMAP: return NFS_FIX;
  default: return "the operating system reported an I/O error; check the disk (dmesg)";
  }
}

static const char *fix_for(const cb_store *s, int rc) {
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return "another process kept the database locked for longer than the lock timeout; is a "
           "clipbench process hung? (see `fuser FILE`)";
  case SQLITE_CANTOPEN:
    return "the folder does not exist or is not writable; create it or choose another --db";
  case SQLITE_READONLY:
  case SQLITE_PERM:
    return "the file or its folder is read-only; SQLite also needs to create FILE-wal and "
           "FILE-shm beside it";
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return "the file is damaged or not an SQLite database; restore a copy, or recover what is "
           "left with `sqlite3 FILE .recover | sqlite3 new.db`";
  case SQLITE_FULL: return cb_io_explain(ENOSPC);
  case SQLITE_IOERR: return io_fix(s, rc);
  case SQLITE_PROTOCOL: return NFS_FIX;
  case SQLITE_NOMEM: return "out of memory";
  default: (void)s; return NULL;
  }
}

int cb_store_err(cb_store *s, int rc, const char *what) {
  const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
  const char *fix = fix_for(s, rc);
  const char *path = s && s->path ? s->path : "(database)";
  /* A full disk (or quota, or file size limit) stops a sweep from starting
   * more runs, and the run resumes once there is space. */
  int full = (rc & 0xff) == SQLITE_FULL ||
             ((rc & 0xff) == SQLITE_IOERR && cb_io_no_space(io_errno(s, rc)));
  int code = full ? CB_EXIT_NOSPACE : 0;
  if (fix) return cb_error_code(code, "%s: %s: %s (%s)", path, what, msg, fix);
  return cb_error_code(code, "%s: %s: %s", path, what, msg);
}

int cb_store_prepare(cb_store *s, const char *sql, sqlite3_stmt **st, const char *what) {
  double t0 = cb_store_now();
  for (;;) {
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc == SQLITE_OK) return 0;
    /* Preparing reads the schema, which can be locked while another process
     * migrates it. */
    if (!is_busy(rc) || cb_store_now() - t0 > s->lock_timeout_s) return cb_store_err(s, rc, what);
    sleep_s(0.05);
  }
}

int cb_store_step(cb_store *s, sqlite3_stmt *st) {
  double t0 = cb_store_now();
  for (;;) {
    int rc = sqlite3_step(st);
    if (!is_busy(rc) || cb_store_now() - t0 > s->lock_timeout_s) return rc;
    sqlite3_reset(st);
    /* The busy handler already waited; back off a little, with jitter so
     * that competing processes do not retry in lock step. */
    sleep_s(0.02 + 0.001 * (double)(rand() % 50));
  }
}

int cb_store_exec(cb_store *s, const char *sql, const char *what) {
  double t0 = cb_store_now();
  for (;;) {
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK) return 0;
    if (!is_busy(rc) || cb_store_now() - t0 > s->lock_timeout_s) return cb_store_err(s, rc, what);
    sleep_s(0.02 + 0.001 * (double)(rand() % 50));
  }
}

int cb_store_bind_num(sqlite3_stmt *st, int i, double v) {
  return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

/* ---- transactions ------------------------------------------------------ */

int cb_store_tx_start(cb_store *s) {
  if (s->tx_depth > 0) return 0;
  if (cb_store_exec(s, "BEGIN IMMEDIATE", "starting a write transaction")) return -1;
  return 1;
}

int cb_store_tx_finish(cb_store *s, int began, int ok) {
  if (!began) return ok ? 0 : -1;
  if (ok && cb_store_exec(s, "COMMIT", "committing") == 0) return 0;
  /* Keep the first error message; the rollback only releases the lock. */
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

int cb_store_begin(cb_store *s) {
  if (s->tx_depth > 0) return cb_error("%s: internal: transaction already open", s->path);
  if (cb_store_exec(s, "BEGIN IMMEDIATE", "starting a write transaction")) return -1;
  s->tx_depth = 1;
  return 0;
}

int cb_store_commit(cb_store *s) {
  if (s->tx_depth == 0) return cb_error("%s: internal: no transaction to commit", s->path);
  s->tx_depth = 0;
  if (cb_store_exec(s, "COMMIT", "committing")) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

void cb_store_rollback(cb_store *s) {
  if (s->tx_depth == 0) return;
  s->tx_depth = 0;
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- opening and migrations ------------------------------------------- */

/* mkdir -p of the folder that will hold path. */
static int make_parent(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return 0;
  *slash = 0;
  for (char *p = dir + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(dir, 0777) && errno != EEXIST)
        return cb_error("%s: cannot create folder %s: %s", path, dir, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  return 0;
}

/* A single integer from sql, or -1 with the error recorded. */
static long long query_int(cb_store *s, const char *sql, const char *what) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, sql, &st, what)) return -1;
  int rc = cb_store_step(s, st);
  long long v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  if (rc != SQLITE_ROW) cb_store_err(s, rc, what);
  sqlite3_finalize(st);
  return v;
}

/* Whether the file is ours, and its schema version, before anything is
 * changed: a clipbench database carries our application id (set when it is
 * created or migrated) and a schema_migrations table of our shape. A file
 * with no tables and no application id is new (empty). Anything else is
 * someone else's file: refused, untouched. */
static int identify_in(cb_store *s, int *version, int *fresh);

/* The queries below must see one snapshot: outside a transaction another
 * process creating the schema could commit between them (application id
 * still 0, tables already there), which would look like a foreign
 * database. */
static int identify(cb_store *s, int *version, int *fresh) {
  if (!sqlite3_get_autocommit(s->db)) return identify_in(s, version, fresh);
  if (cb_store_exec(s, "BEGIN", "reading the schema")) return -1;
  int rc = identify_in(s, version, fresh);
  sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  return rc;
}

static int identify_in(cb_store *s, int *version, int *fresh) {
  *version = 0;
  *fresh = 0;
  long long app = query_int(s, "PRAGMA application_id", "reading the file header");
  long long tables = query_int(
      s, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'", "reading the schema");
  if (app < 0 || tables < 0) return -1;
  if (app == 0 && tables == 0) {
    *fresh = 1;
    return 0;
  }
  /* Our bookkeeping table with exactly our columns. */
  long long shape = query_int(s,
                              "SELECT group_concat(name, ',') = 'version,what,applied_at,"
                              "code_version' FROM (SELECT name FROM "
                              "pragma_table_info('schema_migrations') ORDER BY cid)",
                              "reading the schema");
  if (shape < 0) return -1;
  if (app != CB_STORE_APPLICATION_ID || shape != 1) {
    char tl[200] = "";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_master "
                           "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name "
                           "LIMIT 4)",
                           -1, &st, NULL) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(tl, sizeof tl, "%s", (const char *)sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
    }
    return cb_error("%s: an SQLite database, but not a clipbench results database (application "
                    "id %lld, not %d; tables: %s%s); it was not changed: choose another --db",
                    s->path, app, CB_STORE_APPLICATION_ID, tl[0] ? tl : "none",
                    tables > 4 ? ", ..." : "");
  }
  long long v = query_int(s, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                          "reading the schema version");
  if (v < 0) return -1;
  *version = (int)v;
  return 0;
}

static int too_new(cb_store *s, int version, int latest) {
  return cb_error("%s: schema version %d is newer than this clipbench understands (%d); it was "
                  "written by a newer clipbench: update (git pull, rebuild) before using it",
                  s->path, version, latest);
}

static int migrate(cb_store *s, const cb_migration *m, int n) {
  int latest = n ? m[n - 1].version : 0;
  int v, fresh;
  if (identify(s, &v, &fresh)) return -1;
  if (v > latest) return too_new(s, v, latest);
  if (v == latest) {
    s->version = v;
    return 0;
  }
  /* Another process may be migrating the same file right now: take the write
   * lock first, then look again. */
  if (cb_store_exec(s, "BEGIN IMMEDIATE", "locking the database to create its schema")) return -1;
  int ok = identify(s, &v, &fresh) == 0;
  if (ok && v > latest) ok = too_new(s, v, latest) == 0;
  if (ok && v == 0) {
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d", CB_STORE_APPLICATION_ID);
    ok = cb_store_exec(s, sql, "marking the file") == 0 &&
         cb_store_exec(s,
                       "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, what TEXT "
                       "NOT NULL, applied_at REAL NOT NULL, code_version TEXT NOT NULL)",
                       "creating the schema") == 0;
  }
  for (int i = 0; ok && i < n; i++) {
    if (m[i].version <= v) continue;
    char what[160];
    snprintf(what, sizeof what, "applying schema migration %d", m[i].version);
    ok = cb_store_exec(s, m[i].sql, what) == 0;
    sqlite3_stmt *st = NULL;
    ok = ok && cb_store_prepare(s,
                                "INSERT INTO schema_migrations (version, what, applied_at, "
                                "code_version) VALUES (?, ?, ?, ?)",
                                &st, what) == 0;
    if (ok) {
      sqlite3_bind_int(st, 1, m[i].version);
      sqlite3_bind_text(st, 2, m[i].what, -1, SQLITE_STATIC);
      sqlite3_bind_double(st, 3, cb_store_now());
      sqlite3_bind_text(st, 4, cb_version_string(), -1, SQLITE_STATIC);
      int rc = cb_store_step(s, st);
      if (rc != SQLITE_DONE) ok = cb_store_err(s, rc, what) == 0;
    }
    sqlite3_finalize(st);
  }
  /* user_version mirrors the schema version for tools that read the header
   * (file(1), sqlite3 .dbinfo). */
  if (ok) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", latest);
    ok = cb_store_exec(s, sql, "recording the schema version") == 0;
  }
  if (!ok) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  if (cb_store_exec(s, "COMMIT", "committing the schema")) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  s->version = latest;
  return 0;
}

/* Connection settings that change nothing in the file. */
static int connect_settings(cb_store *s) {
  sqlite3_extended_result_codes(s->db, 1);
  int rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  if (rc != SQLITE_OK) return cb_store_err(s, rc, "setting busy_timeout");
  /* Reading the header first turns "not a database" into a clear error. */
  if (query_int(s, "PRAGMA application_id", "reading the file header") < 0) return -1;
  if (cb_store_exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys")) return -1;
  if (query_int(s, "PRAGMA foreign_keys", "checking foreign keys") != 1)
    return cb_error("%s: this SQLite library cannot enforce foreign keys", s->path);
  return 0;
}

/* Write-ahead logging for a file identified as ours (or new). */
static int use_wal(cb_store *s) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "PRAGMA journal_mode = WAL", &st, "switching to WAL")) return -1;
  int rc = cb_store_step(s, st);
  char mode[32] = "";
  if (rc == SQLITE_ROW) snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return cb_store_err(s, rc, "switching to WAL");
  if (strcmp(mode, "wal") != 0)
    return cb_error("%s: cannot use write-ahead logging (journal mode stays '%s'); the file "
                    "must be on a local disk, not a network file system",
                    s->path, mode);
  return cb_store_exec(s, "PRAGMA synchronous = NORMAL", "setting synchronous");
}

/* "file:" URI of path with immutable=1: for reading a WAL database on a
 * read-only mount, where SQLite cannot create the -shm file it otherwise
 * needs. Nothing can write the file there, so reading it as immutable is
 * exact. */
static void immutable_uri(const char *path, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "file:");
  for (const unsigned char *p = (const unsigned char *)path; *p && k + 4 < n; p++) {
    if (*p == '%' || *p == '?' || *p == '#' || *p < 0x21 || *p > 0x7e)
      k += (size_t)snprintf(out + k, n - k, "%%%02X", *p);
    else
      out[k++] = (char)*p;
  }
  snprintf(out + k, n - k, "?immutable=1");
}

static int dir_writable(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    dir[1] = 0;
  else
    *slash = 0;
  return access(dir, W_OK) == 0;
}

/* Read-only: never writes to the file. A database of an older schema is read
 * through a migrated copy in memory. */
static int open_readonly(cb_store *s, const cb_migration *m, int n) {
  int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READONLY, NULL);
  int ok = rc == SQLITE_OK && connect_settings(s) == 0;
  int v = 0, fresh = 0;
  ok = ok && identify(s, &v, &fresh) == 0;
  if (!ok && !dir_writable(s->path)) {
    /* A read-only folder or mount: SQLite cannot create the -shm file a WAL
     * database needs even for reading. */
    char uri[PATH_MAX * 3 + 32];
    immutable_uri(s->path, uri, sizeof uri);
    sqlite3_close(s->db);
    s->db = NULL;
    rc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    ok = rc == SQLITE_OK && connect_settings(s) == 0 && identify(s, &v, &fresh) == 0;
  }
  if (!ok) return rc != SQLITE_OK ? cb_store_err(s, rc, "opening") : -1;
  int latest = n ? m[n - 1].version : 0;
  if (fresh)
    return cb_error("%s: an empty file, not a clipbench results database yet (run an experiment "
                    "or sweep into it first)",
                    s->path);
  if (v > latest) return too_new(s, v, latest);
  if (v < latest) {
    /* An older schema: read a copy in memory, migrated there; the file is
     * left as it is (a writing command migrates it). */
    sqlite3 *mem = NULL;
    rc = sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(mem, "main", s->db, "main") : NULL;
    if (b) sqlite3_backup_step(b, -1);
    rc = b ? sqlite3_backup_finish(b) : SQLITE_NOMEM;
    if (rc != SQLITE_OK) {
      sqlite3_close(mem);
      return cb_store_err(s, rc, "reading an older schema into memory");
    }
    sqlite3_close(s->db);
    s->db = mem;
    return connect_settings(s) || migrate(s, m, n) ? -1 : 0;
  }
  s->version = v;
  return 0;
}

/* The file's identity, to notice it being deleted or replaced while open. */
static void remember_identity(cb_store *s) {
  struct stat sb;
  if (stat(s->path, &sb) == 0) {
    s->dev = (unsigned long long)sb.st_dev;
    s->ino = (unsigned long long)sb.st_ino;
    s->have_identity = 1;
  }
}

int cb_store_check_file(cb_store *s) {
  if (!s->have_identity) return 0;
  struct stat sb;
  if (stat(s->path, &sb) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) return 0; /* cannot tell: not proof of loss */
    return cb_error("%s: the results database was deleted while clipbench was using it; what it "
                    "recorded is gone with it, so nothing more is trained: restore the file (or "
                    "choose a new --db) and run again",
                    s->path);
  }
  if ((unsigned long long)sb.st_dev != s->dev || (unsigned long long)sb.st_ino != s->ino)
    return cb_error("%s: the results database was replaced by another file while clipbench was "
                    "using it; stopping so that nothing is written to the wrong database: run "
                    "again to continue with the file now there",
                    s->path);
  return 0;
}

cb_store *cb_store_open_with(const char *path, int flags, const cb_migration *m, int n) {
  if (!path || !*path) {
    cb_error("no database path given (use --db FILE)");
    return NULL;
  }
  struct stat sb;
  int exists = stat(path, &sb) == 0;
  int ro = (flags & CB_STORE_READONLY) != 0;
  if (!exists && (ro || !(flags & CB_STORE_CREATE))) {
    cb_error("%s: no such database (run an experiment or sweep first, or pass --db FILE)", path);
    return NULL;
  }
  if (exists && S_ISDIR(sb.st_mode)) {
    cb_error("%s: is a folder; --db takes a file such as %s/results.db", path, path);
    return NULL;
  }
  if (!exists && make_parent(path)) return NULL;
  cb_store *s = cb_calloc(1, sizeof *s, "results store");
  if (!s) return NULL;
  s->path = cb_strdup(path);
  s->lock_timeout_s = 120;
  if (!s->path) {
    free(s);
    return NULL;
  }
  if (ro) {
    if (open_readonly(s, m, n)) {
      cb_store_close(s);
      return NULL;
    }
    remember_identity(s);
    return s;
  }
  int oflags = SQLITE_OPEN_READWRITE | (flags & CB_STORE_CREATE ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
  if (rc != SQLITE_OK) {
    cb_store_err(s, rc, "opening");
    cb_store_close(s);
    return NULL;
  }
  /* Identify the file before the first change (the switch to WAL). */
  int v, fresh;
  if (connect_settings(s) || identify(s, &v, &fresh) || use_wal(s) || migrate(s, m, n)) {
    cb_store_close(s);
    return NULL;
  }
  remember_identity(s);
  return s;
}

cb_store *cb_store_open(const char *path, int flags) {
  cb_store *s = cb_store_open_with(path, flags, CB_MIGRATIONS, CB_N_MIGRATIONS);
  /* A reader never writes: a database written by another clipbench version
   * keeps that version's views until a writer opens it (status, report and
   * export must work on a database they may not write, and beside workers). */
  if (s && !(flags & CB_STORE_READONLY) && cb_store_sync_views(s)) {
    cb_store_close(s);
    return NULL;
  }
  return s;
}

void cb_store_close(cb_store *s) {
  if (!s) return;
  if (s->db) {
    if (s->tx_depth) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(s->db);
  }
  free(s->path);
  free(s);
}

const char *cb_store_path(const cb_store *s) {
  return s->path;
}
sqlite3 *cb_store_db(cb_store *s) {
  return s->db;
}
int cb_store_schema_version(cb_store *s) {
  return s->version;
}
int cb_store_code_schema_version(void) {
  return CB_MIGRATIONS[CB_N_MIGRATIONS - 1].version;
}
void cb_store_set_lock_timeout(cb_store *s, double seconds) {
  s->lock_timeout_s = seconds;
}

void cb_store_worker_name(char *buf, size_t n) {
  char host[256] = "localhost";
  if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
  host[sizeof host - 1] = 0;
  snprintf(buf, n, "%s:%ld", host, (long)getpid());
}
