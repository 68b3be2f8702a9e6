/* The report's privacy-audit section: one row per audited run with the
 * audit's settings, its epsilon lower bound and the accountant's epsilon it
 * is held to; a lower bound above that epsilon is a privacy bug, shown in red
 * on the HTML page and in bold in Markdown, and counted in a warning above
 * the table. */
#include "results/report_audit.h"

#include "core/base/error.h"
#include "results/export.h"
#include "results/report.h"
#include "results/store_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const HEAD[] = {"configuration",  "seed",    "canaries",
                                   "guesses",        "correct", "ε lower bound (audit)",
                                   "ε (accountant)", "verdict"};
enum { NCOL = sizeof HEAD / sizeof HEAD[0] };

static const char INTRO[] =
    "Privacy audit in one training run (Steinke, Nasr and Jagielski 2023): canaries included "
    "with probability 1/2, the most confident guesses of membership, and the epsilon that the "
    "guesses prove at the stated confidence. The lower bound is empirical, not a guarantee, "
    "and a small one does not certify privacy; a lower bound above the accountant's epsilon "
    "means the run is not as private as reported (a privacy bug).";

static int bind_sweep(sqlite3_stmt *st, const char *sweep) {
  int sp = sqlite3_bind_parameter_index(st, ":sweep");
  if (!sp) return 0;
  return sweep ? sqlite3_bind_text(st, sp, sweep, -1, SQLITE_STATIC) : sqlite3_bind_null(st, sp);
}

/* Column of the audits query by name (the query may gain columns). */
static int col(sqlite3_stmt *st, const char *name) {
  for (int k = 0; k < sqlite3_column_count(st); k++)
    if (strcmp(sqlite3_column_name(st, k), name) == 0) return k;
  return -1;
}

static const char *text_or(sqlite3_stmt *st, int k, const char *dflt) {
  const unsigned char *t = k >= 0 ? sqlite3_column_text(st, k) : NULL;
  return t ? (const char *)t : dflt;
}

#define MAX_ROWS 500
typedef char row_cells[NCOL][96];

int cb_report_audit(cb_store *s, const char *sweep, FILE *html, FILE *md, int *bugs) {
  const cb_export_query *q = cb_export_find("audits");
  sqlite3_stmt *st;
  if (bugs) *bugs = 0;
  row_cells *cells = malloc(MAX_ROWS * sizeof *cells);
  int *bug = malloc(MAX_ROWS * sizeof *bug);
  if (!cells || !bug) {
    free(cells);
    free(bug);
    return cb_error("out of memory for the report's audit table");
  }
  if (cb_store_prepare(s, q->sql, &st, "report: audits")) {
    free(cells);
    free(bug);
    return -1;
  }
  bind_sweep(st, sweep);
  int c_label = col(st, "label"), c_kind = col(st, "kind"), c_seed = col(st, "seed"),
      c_m = col(st, "canaries"), c_k = col(st, "guesses"), c_v = col(st, "correct"),
      c_conf = col(st, "confidence"), c_lb = col(st, "audit_epsilon_lb"),
      c_eps = col(st, "epsilon"), c_acc = col(st, "accountant"), c_bug = col(st, "privacy_bug");
  /* Rows first (the warning above the table needs the count). */
  int rows = 0, n_bugs = 0, more = 0, rc;
  double conf = NAN;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW) {
    int is_bug = sqlite3_column_int(st, c_bug);
    n_bugs += is_bug;
    if (rows == MAX_ROWS) {
      more++;
      continue;
    }
    char(*c)[96] = cells[rows];
    int private_ = sqlite3_column_type(st, c_eps) != SQLITE_NULL;
    snprintf(c[0], 96, "%s (%s)", text_or(st, c_label, "-"), text_or(st, c_kind, "-"));
    snprintf(c[1], 96, "%lld", (long long)sqlite3_column_int64(st, c_seed));
    snprintf(c[2], 96, "%d", sqlite3_column_int(st, c_m));
    snprintf(c[3], 96, "%d", sqlite3_column_int(st, c_k));
    snprintf(c[4], 96, "%d", sqlite3_column_int(st, c_v));
    conf = sqlite3_column_double(st, c_conf);
    snprintf(c[5], 96, "%.3f", sqlite3_column_double(st, c_lb));
    if (private_)
      snprintf(c[6], 96, "%.3f (%s)", sqlite3_column_double(st, c_eps), text_or(st, c_acc, "?"));
    else
      snprintf(c[6], 96, "- (non-private)");
    snprintf(c[7], 96, "%s",
             is_bug     ? "PRIVACY BUG"
             : private_ ? "below the accountant"
                        : "no privacy (expected)");
    bug[rows++] = is_bug;
  }
  sqlite3_finalize(st);
  if (bugs) *bugs = n_bugs;
  if (rc != SQLITE_DONE || rows == 0) {
    free(cells);
    free(bug);
    return rc != SQLITE_DONE ? cb_store_err(s, rc, "report: audits") : 0;
  }
  fputs("<h2>Privacy audit</h2>\n<p>", html);
  cb_html_text(html, INTRO);
  fprintf(html, " Confidence %g%%.</p>\n", 100 * conf);
  fprintf(md, "\n## Privacy audit\n\n%s Confidence %g%%.\n\n", INTRO, 100 * conf);
  if (n_bugs) {
    fprintf(html,
            "<p style=\"color:#c00;font-weight:bold\">PRIVACY BUG: %d run%s with an audited lower "
            "bound above the accountant's epsilon.</p>\n",
            n_bugs, n_bugs == 1 ? "" : "s");
    fprintf(md,
            "**PRIVACY BUG: %d run%s with an audited lower bound above the accountant's "
            "epsilon.**\n\n",
            n_bugs, n_bugs == 1 ? "" : "s");
  }
  fputs("<table>\n<tr>", html);
  fputs("|", md);
  for (int k = 0; k < NCOL; k++) {
    fputs("<th>", html);
    cb_html_text(html, HEAD[k]);
    fputs("</th>", html);
    fprintf(md, " %s |", HEAD[k]);
  }
  fputs("</tr>\n", html);
  fputs("\n|", md);
  for (int k = 0; k < NCOL; k++)
    fputs(k == 0 || k == NCOL - 1 ? " --- |" : " ---: |", md);
  fputs("\n", md);
  for (int r = 0; r < rows; r++) {
    fputs(bug[r] ? "<tr style=\"color:#c00;font-weight:bold\">" : "<tr>", html);
    fputs("|", md);
    for (int k = 0; k < NCOL; k++) {
      fputs(k == 0 || k == NCOL - 1 ? "<td>" : "<td class=\"n\">", html);
      cb_html_text(html, cells[r][k]);
      fputs("</td>", html);
      fprintf(md, bug[r] ? " **%s** |" : " %s |", cells[r][k]);
    }
    fputs("</tr>\n\n", html);
    fputs("\n", md);
  }
  fputs("</table>\n", html);
  if (more) {
    fprintf(html, "<p>... and %d more audited runs (clipbench export --query audits).</p>\n", more);
    fprintf(md, "... and %d more audited runs (`clipbench export --query audits`).\n", more);
  }
  free(cells);
  free(bug);
  return 0;
}
