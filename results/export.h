/* Export of results for gnuplot, pandas and spreadsheets: named queries (the
 * data behind each figure) or any read-only SQL, written as TSV, CSV or JSON
 * lines. */
#ifndef CB_RESULTS_EXPORT_H
#define CB_RESULTS_EXPORT_H

#include "results/store.h"

#include <stdio.h>

typedef struct {
  const char *name;
  const char *help; /* one line */
  const char *sql;  /* may use :sweep (NULL = all runs) */
} cb_export_query;

extern const cb_export_query CB_EXPORT_QUERIES[];
extern const int CB_N_EXPORT_QUERIES;

const cb_export_query *cb_export_find(const char *name);

enum { CB_EXPORT_TSV, CB_EXPORT_CSV, CB_EXPORT_JSON, CB_EXPORT_LATEX };
extern const char *const CB_EXPORT_FORMAT_NAMES[]; /* tsv csv json latex */

typedef struct {
  const char *query; /* a named query or SQL (SELECT/WITH/VALUES ...) */
  const char *sweep; /* restrict to this sweep's runs, or NULL */
  /* Configuration keys to facet by ("train.lr,model.width"), bound to :by:
   * figures split by them, other varying keys stay in the series names. */
  const char *by;
  int format;        /* CB_EXPORT_* */
  const char *group; /* TSV: start a new gnuplot block when this column changes */
  /* Keep rows whose column equals the value ("COLUMN=VALUE"; numbers compare
   * as numbers, "null" matches NULL). */
  const char *const *filters;
  int n_filters;
} cb_export_args;

/* Runs the query on s and writes the rows to f. Returns the number of rows,
 * or -1 with cb_error set. */
long cb_export(cb_store *s, const cb_export_args *a, FILE *f);

/* Checks that every key of a --by list ("train.lr,model.width") is a leaf
 * key of some run's configuration; -1 with one clear line otherwise. */
int cb_export_check_by(cb_store *s, const char *by);

/* Binds :sweep and :by of a named query (NULL = all runs / default facets). */
struct sqlite3_stmt;
void cb_export_bind(struct sqlite3_stmt *st, const char *sweep, const char *by);

#endif
