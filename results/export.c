/* Writing query results as TSV (gnuplot), CSV (spreadsheets) or JSON lines
 * (pandas, scripts).
 *
 * TSV: a plain header line of column names (gnuplot 5 reads it for
 * `using "epoch":"val_dice"` and skips it for `using 1:2`), tab-separated
 * values, missing values as NaN (gnuplot treats them as undefined points),
 * text with spaces in double quotes (one gnuplot column either way). With a
 * group column, each group is its own gnuplot data block: two blank lines and
 * the header again (the group column's cell holding the group's value), so
 * `plot for [i=0:*] FILE index i using "epoch":"val_dice" title columnhead(2)`
 * draws one curve per group, named after it.
 * CSV: RFC 4180, missing values empty. JSON: one object per row, null. */
#include "results/export.h"

#include "core/base/error.h"
#include "core/base/json.h"
#include "results/store_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const CB_EXPORT_FORMAT_NAMES[] = {"tsv", "csv", "json", NULL};

/* Shortest text that reads back to v, without exponents for integers below
 * 1e15 (20, not 2e+01). */
static void fmt_double(double v, char *buf, size_t n) {
  if (v == 0) v = 0;
  int digits = fabs(v) >= 1 && fabs(v) < 1e15 ? (int)floor(log10(fabs(v))) + 1 : 1;
  for (int prec = digits; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

static void tsv_text(FILE *f, const char *s) {
  int quote = !*s || s[0] == '#' || strpbrk(s, " \t\r\n\"") != NULL;
  if (quote) fputc('"', f);
  for (const char *p = s; *p; p++) {
    char c = *p;
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    if (c == '"') c = '\'';
    fputc(c, f);
  }
  if (quote) fputc('"', f);
}

static void csv_text(FILE *f, const char *s) {
  int quote = strpbrk(s, ",\"\r\n") != NULL || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '));
  if (!quote) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  fputc('"', f);
}

/* With a group column, its header cell holds the block's value instead of the
 * column name, so gnuplot's `title columnhead(N)` names each curve. */
static void write_header(FILE *f, sqlite3_stmt *st, int format, int group_col,
                         const char *group_value) {
  int n = sqlite3_column_count(st);
  for (int i = 0; i < n; i++) {
    if (i) fputc(format == CB_EXPORT_TSV ? '\t' : ',', f);
    const char *name = i == group_col ? group_value : sqlite3_column_name(st, i);
    if (format == CB_EXPORT_TSV)
      tsv_text(f, name);
    else
      csv_text(f, name);
  }
  fputc('\n', f);
}

static void write_row(FILE *f, sqlite3_stmt *st, int format) {
  int n = sqlite3_column_count(st);
  char num[40];
  if (format == CB_EXPORT_JSON) {
    cb_json j;
    cb_json_init_file(&j, f);
    cb_json_obj_begin(&j);
    for (int i = 0; i < n; i++) {
      cb_json_key(&j, sqlite3_column_name(st, i));
      switch (sqlite3_column_type(st, i)) {
      case SQLITE_NULL: cb_json_null(&j); break;
      case SQLITE_INTEGER: cb_json_int(&j, sqlite3_column_int64(st, i)); break;
      case SQLITE_FLOAT: cb_json_num(&j, sqlite3_column_double(st, i)); break;
      case SQLITE_BLOB: cb_json_str(&j, "<blob>"); break;
      default: cb_json_str(&j, (const char *)sqlite3_column_text(st, i));
      }
    }
    cb_json_obj_end(&j);
    fputc('\n', f);
    return;
  }
  for (int i = 0; i < n; i++) {
    if (i) fputc(format == CB_EXPORT_TSV ? '\t' : ',', f);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
      if (format == CB_EXPORT_TSV) fputs("NaN", f);
      break;
    case SQLITE_INTEGER: fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT:
      fmt_double(sqlite3_column_double(st, i), num, sizeof num);
      fputs(num, f);
      break;
    case SQLITE_BLOB: fputs("<blob>", f); break;
    default: {
      const char *t = (const char *)sqlite3_column_text(st, i);
      if (format == CB_EXPORT_TSV)
        tsv_text(f, t);
      else
        csv_text(f, t);
    }
    }
  }
  fputc('\n', f);
}

static int looks_like_sql(const char *q) {
  while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '(')
    q++;
  return !strncasecmp(q, "select", 6) || !strncasecmp(q, "with", 4) ||
         !strncasecmp(q, "values", 6) || strchr(q, ' ') != NULL;
}

static void query_names(char *buf, size_t n) {
  buf[0] = 0;
  for (int i = 0; i < CB_N_EXPORT_QUERIES; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "%s%s", i ? ", " : "", CB_EXPORT_QUERIES[i].name);
  }
}

static int check_sweep(cb_store *s, const char *name) {
  int64_t id;
  int found = cb_store_find_sweep(s, name, &id);
  if (found < 0) return -1;
  if (found) return 0;
  char list[1024] = "";
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "SELECT name FROM sweeps ORDER BY created_at", &st, "listing sweeps"))
    return -1;
  while (cb_store_step(s, st) == SQLITE_ROW) {
    size_t used = strlen(list);
    snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
             (const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return cb_error("%s: no sweep called '%s' (sweeps here: %s)", cb_store_path(s), name,
                  list[0] ? list : "none");
}

#define MAX_FILTERS 16

/* Wraps sql in SELECT * FROM (sql) WHERE ... for the filters, after checking
 * every filter names one of the columns of st (sql prepared). Returns a
 * malloc'ed SQL. */
static char *filtered_sql(sqlite3_stmt *st, const char *sql, const cb_export_args *a) {
  /* Each filter adds its column name (at most the filter's length) and
   * about 30 characters of SQL. */
  size_t cap = strlen(sql) + 64;
  for (int k = 0; k < a->n_filters; k++)
    cap += strlen(a->filters[k]) + 48;
  char *out = cb_malloc(cap, "query");
  if (!out) return NULL;
  size_t used = (size_t)snprintf(out, cap, "SELECT * FROM (%s) WHERE 1", sql);
  for (int k = 0; k < a->n_filters; k++) {
    const char *eq = strchr(a->filters[k], '=');
    int found = 0;
    if (eq)
      for (int i = 0; i < sqlite3_column_count(st); i++) {
        const char *cn = sqlite3_column_name(st, i);
        if (strlen(cn) == (size_t)(eq - a->filters[k]) &&
            strncmp(cn, a->filters[k], (size_t)(eq - a->filters[k])) == 0)
          found = 1;
      }
    if (!eq || !found || strchr(a->filters[k], '"')) {
      free(out);
      cb_error(eq ? "--filter %s: the query has no column '%.*s'"
                  : "--filter %s: expected COLUMN=VALUE",
               a->filters[k], eq ? (int)(eq - a->filters[k]) : 0, a->filters[k]);
      return NULL;
    }
    const char *v = eq + 1;
    if (strcmp(v, "null") == 0 || strcmp(v, "NaN") == 0)
      used += (size_t)snprintf(out + used, cap - used, " AND \"%.*s\" IS NULL",
                               (int)(eq - a->filters[k]), a->filters[k]);
    else
      used += (size_t)snprintf(out + used, cap - used, " AND \"%.*s\" = :f%d",
                               (int)(eq - a->filters[k]), a->filters[k], k);
  }
  return out;
}

/* What follows a statement besides blanks and semicolons ("" if nothing). */
static const char *after_blanks(const char *tail) {
  while (tail && (*tail == ' ' || *tail == ';' || *tail == '\n' || *tail == '\t'))
    tail++;
  return tail ? tail : "";
}

static void bind_filters(sqlite3_stmt *st, const cb_export_args *a) {
  for (int k = 0; k < a->n_filters; k++) {
    char name[16];
    snprintf(name, sizeof name, ":f%d", k);
    int idx = sqlite3_bind_parameter_index(st, name);
    if (!idx) continue;
    const char *v = strchr(a->filters[k], '=') + 1;
    char *end;
    double d = strtod(v, &end);
    if (*v && !*end)
      sqlite3_bind_double(st, idx, d);
    else
      sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC);
  }
}

long cb_export(cb_store *s, const cb_export_args *a, FILE *f) {
  const char *sql = a->query;
  const cb_export_query *named = cb_export_find(a->query);
  if (named)
    sql = named->sql;
  else if (!looks_like_sql(a->query)) {
    char names[512];
    query_names(names, sizeof names);
    return cb_error("unknown query '%s' (named queries: %s; or pass SQL such as \"SELECT * FROM "
                    "runs\")",
                    a->query, names);
  }
  if (a->group && a->format != CB_EXPORT_TSV)
    return cb_error("--group makes gnuplot blocks and applies to --format tsv only");
  if (a->sweep && check_sweep(s, a->sweep)) return -1;
  char *wrapped = NULL;
  if (a->n_filters > 0) {
    if (a->n_filters > MAX_FILTERS) return cb_error("at most %d --filter options", MAX_FILTERS);
    /* Checked on the bare query first, so its errors read as usual. */
    sqlite3_stmt *probe;
    const char *ptail = NULL;
    int prc = sqlite3_prepare_v2(cb_store_db(s), sql, -1, &probe, &ptail);
    if (prc != SQLITE_OK) return cb_store_err(s, prc, named ? "export query" : "your query");
    if (!probe) return cb_error("the query is empty");
    if (*after_blanks(ptail)) {
      sqlite3_finalize(probe);
      return cb_error("export runs one statement; remove what follows '%.40s'",
                      after_blanks(ptail));
    }
    wrapped = filtered_sql(probe, sql, a);
    sqlite3_finalize(probe);
    if (!wrapped) return -1;
    sql = wrapped;
  }
  sqlite3_stmt *st;
  const char *tail = NULL;
  int rc = sqlite3_prepare_v2(cb_store_db(s), sql, -1, &st, &tail);
  /* tail points into sql, which may be `wrapped`: read it before freeing. */
  char rest[41] = "";
  if (rc == SQLITE_OK) snprintf(rest, sizeof rest, "%.40s", after_blanks(tail));
  free(wrapped);
  wrapped = NULL;
  if (rc != SQLITE_OK) return cb_store_err(s, rc, named ? "export query" : "your query");
  if (!st) return cb_error("the query is empty");
  if (rest[0]) {
    sqlite3_finalize(st);
    return cb_error("export runs one statement; remove what follows '%s'", rest);
  }
  if (!sqlite3_stmt_readonly(st)) {
    sqlite3_finalize(st);
    return cb_error("export runs read-only queries; this one would change the database");
  }
  int sweep_param = sqlite3_bind_parameter_index(st, ":sweep");
  if (a->sweep && !sweep_param) {
    sqlite3_finalize(st);
    return cb_error("--sweep needs a query that uses :sweep (the named queries do)");
  }
  bind_filters(st, a);
  if (sweep_param) {
    if (a->sweep)
      sqlite3_bind_text(st, sweep_param, a->sweep, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, sweep_param);
  }
  int group_col = -1;
  if (a->group) {
    for (int i = 0; i < sqlite3_column_count(st); i++)
      if (strcmp(sqlite3_column_name(st, i), a->group) == 0) group_col = i;
    if (group_col < 0) {
      sqlite3_finalize(st);
      return cb_error("--group %s: the query has no such column", a->group);
    }
  }
  if (a->format != CB_EXPORT_JSON && group_col < 0) write_header(f, st, a->format, -1, NULL);
  long rows = 0;
  char *prev = NULL;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW) {
    if (group_col >= 0) {
      const char *g = (const char *)sqlite3_column_text(st, group_col);
      if (!g) g = "NaN";
      if (!prev || strcmp(prev, g) != 0) {
        if (prev) fputs("\n\n", f);
        write_header(f, st, a->format, group_col, g);
        free(prev);
        prev = cb_strdup(g);
      }
    }
    write_row(f, st, a->format);
    rows++;
  }
  free(prev);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return cb_store_err(s, rc, "running the export query");
  /* errno may be stale by now (SQLite ran since the failed write): only a
   * full disk, which persists, is named. */
  if (ferror(f))
    return cb_io_no_space(errno) ? cb_io_error(errno, "writing the export failed")
                                 : cb_error("writing the export failed");
  return rows;
}
