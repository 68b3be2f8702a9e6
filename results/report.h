/* The pages of clipbench report (report_pages.c): one HTML page and its
 * Markdown twin, written from the named export queries. */
#ifndef CB_RESULTS_REPORT_H
#define CB_RESULTS_REPORT_H

#include "results/store.h"

#include <stdio.h>

typedef struct {
  const char *sweep;  /* NULL = every run */
  const char *by;     /* facet keys (--by), NULL = every varying key */
  const char *out;    /* folder of index.html and report.md */
  const char *figdir; /* rendered figures (PNG embedded, PDF linked) */
} cb_report_args;

/* Writes out/index.html and out/report.md; *n_figs = figures embedded. */
int cb_report_write(cb_store *s, const cb_report_args *a, int *n_figs);

/* Writes s into an HTML page with <, >, & and " escaped (every report piece). */
void cb_html_text(FILE *f, const char *s);

#endif
