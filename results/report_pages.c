/* The report's pages. In order: what was run (an experimental-setup block:
 * data, model and size, optimizer, schedule, the DP setting: delta,
 * accountant, sampling, q, N, T, sigma, C, or "not a DP guarantee"),
 * warnings (clip bounds that never or always bind, failed runs, single
 * seeds), the summary per configuration with 95% confidence intervals, the
 * method x sigma pivot, per-class Dice, the figures (one set per facet), every
 * run's last epoch and a drill-down per run (configuration, curve, error).
 * Every table comes from a named export query, so what the page shows is
 * what `clipbench export` gives; configurations are told apart by every key
 * that varies (label), and averaged only over seeds. */
#include "core/base/error.h"
#include "core/base/version.h"
#include "results/bounds.h"
#include "results/export.h"
#include "results/report.h"
#include "results/report_audit.h"
#include "results/store_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  FILE *html, *md;
  cb_store *s;
  const cb_report_args *a;
} page;

void cb_html_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '<')
      fputs("&lt;", f);
    else if (*s == '>')
      fputs("&gt;", f);
    else if (*s == '&')
      fputs("&amp;", f);
    else if (*s == '"')
      fputs("&quot;", f);
    else
      fputc(*s, f);
  }
}

/* Markdown table cells: a '|' would end the cell. */
static void md_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '|')
      fputs("\\|", f);
    else
      fputc(*s == '\n' ? ' ' : *s, f);
  }
}

static void heading(page *p, const char *text) {
  fputs("<h2>", p->html);
  cb_html_text(p->html, text);
  fputs("</h2>\n", p->html);
  fprintf(p->md, "\n## %s\n\n", text);
}

static void para(page *p, const char *text) {
  fputs("<p>", p->html);
  cb_html_text(p->html, text);
  fputs("</p>\n", p->html);
  fprintf(p->md, "%s\n\n", text);
}

static int embed_png(FILE *f, const char *path) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  FILE *in = fopen(path, "rb");
  if (!in) return -1;
  fputs("data:image/png;base64,", f);
  unsigned char buf[3];
  size_t n;
  while ((n = fread(buf, 1, 3, in)) > 0) {
    unsigned v =
        (unsigned)buf[0] << 16 | (n > 1 ? (unsigned)buf[1] << 8 : 0) | (n > 2 ? buf[2] : 0);
    fputc(b64[v >> 18 & 63], f);
    fputc(b64[v >> 12 & 63], f);
    fputc(n > 1 ? b64[v >> 6 & 63] : '=', f);
    fputc(n > 2 ? b64[v & 63] : '=', f);
  }
  fclose(in);
  return 0;
}

static int prepare(page *p, const char *sql, sqlite3_stmt **st) {
  if (cb_store_prepare(p->s, sql, st, "report query")) return -1;
  cb_export_bind(*st, p->a->sweep, p->a->by);
  return 0;
}

static int col_index(sqlite3_stmt *st, const char *name) {
  for (int k = 0; k < sqlite3_column_count(st); k++)
    if (strcmp(sqlite3_column_name(st, k), name) == 0) return k;
  return -1;
}

/* ---- tables -------------------------------------------------------------------------- */

enum { TEXT = -1, GENERAL = -2 };

/* A column: the query column, its heading, digits (or TEXT, or GENERAL for
 * %g); with plus set, "mean ± plus" (nothing after the mean when plus is
 * NULL: one seed has no interval). */
typedef struct {
  const char *col, *head;
  int digits;
  const char *plus;
} column_spec;

static void cell_text(sqlite3_stmt *st, int k, int k2, const column_spec *c, char *out, size_t n) {
  out[0] = 0;
  if (k < 0 || sqlite3_column_type(st, k) == SQLITE_NULL) {
    snprintf(out, n, "-");
    return;
  }
  if (c->digits == TEXT) {
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, k));
    return;
  }
  if (sqlite3_column_type(st, k) == SQLITE_INTEGER)
    snprintf(out, n, "%lld", (long long)sqlite3_column_int64(st, k));
  else if (c->digits == GENERAL)
    snprintf(out, n, "%g", sqlite3_column_double(st, k));
  else
    snprintf(out, n, "%.*f", c->digits, sqlite3_column_double(st, k));
  if (k2 >= 0 && sqlite3_column_type(st, k2) != SQLITE_NULL) {
    size_t u = strlen(out);
    snprintf(out + u, n - u, " ± %.*f", c->digits, sqlite3_column_double(st, k2));
  }
}

static void row_begin(page *p) {
  fputs("<tr>", p->html);
  fputs("|", p->md);
}
static void row_cell(page *p, const char *text, int numeric, int head) {
  fputs(head ? "<th>" : numeric ? "<td class=\"n\">" : "<td>", p->html);
  cb_html_text(p->html, text);
  fputs(head ? "</th>" : "</td>", p->html);
  fputc(' ', p->md);
  md_text(p->md, text);
  fputs(" |", p->md);
}
static void row_end(page *p, int head, int ncols) {
  fputs("</tr>\n", p->html);
  fputs("\n", p->md);
  if (head) {
    fputs("|", p->md);
    for (int c = 0; c < ncols; c++)
      fputs(" --- |", p->md);
    fputs("\n", p->md);
  }
}

/* A table of a named query (or SQL over one), with chosen columns. */
static int table(page *p, const char *sql, const column_spec *cols, int ncols, int *rows_out) {
  sqlite3_stmt *st;
  if (prepare(p, sql, &st)) return -1;
  int idx[32], idx2[32];
  for (int c = 0; c < ncols && c < 32; c++) {
    idx[c] = col_index(st, cols[c].col);
    idx2[c] = cols[c].plus ? col_index(st, cols[c].plus) : -1;
  }
  fputs("<table>\n", p->html);
  row_begin(p);
  for (int c = 0; c < ncols; c++)
    row_cell(p, cols[c].head, 0, 1);
  row_end(p, 1, ncols);
  int rows = 0, rc;
  while ((rc = cb_store_step(p->s, st)) == SQLITE_ROW) {
    row_begin(p);
    for (int c = 0; c < ncols; c++) {
      char cell[1024];
      cell_text(st, idx[c], idx2[c], &cols[c], cell, sizeof cell);
      row_cell(p, cell, cols[c].digits != TEXT, 0);
    }
    row_end(p, 0, ncols);
    rows++;
  }
  sqlite3_finalize(st);
  fputs("</table>\n", p->html);
  if (rc != SQLITE_DONE) return cb_store_err(p->s, rc, "report query");
  if (rows_out) *rows_out = rows;
  return 0;
}

/* A pivot from SQL giving r (row), c (column), o (column order), m (mean), ci
 * and n: rows in order of appearance, columns by o; cells "m ± ci (n)". */
#define PIV_ROWS 256
#define PIV_COLS 48
typedef struct {
  char *row[PIV_ROWS], *col[PIV_COLS], *cell[PIV_ROWS][PIV_COLS];
  double order[PIV_COLS];
  int nr, nc;
} pivot_t;

static int pivot(page *p, const char *sql, const char *corner, int *rows_out) {
  sqlite3_stmt *st;
  if (prepare(p, sql, &st)) return -1;
  pivot_t *t = calloc(1, sizeof *t);
  if (!t) {
    sqlite3_finalize(st);
    return cb_error("out of memory for a report table");
  }
  int rc, dropped = 0;
  while ((rc = cb_store_step(p->s, st)) == SQLITE_ROW) {
    const char *r = (const char *)sqlite3_column_text(st, 0);
    const char *c = (const char *)sqlite3_column_text(st, 1);
    if (!r || !c) continue;
    int i = 0, j = 0;
    while (i < t->nr && strcmp(t->row[i], r) != 0)
      i++;
    while (j < t->nc && strcmp(t->col[j], c) != 0)
      j++;
    if (i == PIV_ROWS || j == PIV_COLS) {
      dropped++;
      continue;
    }
    if (i == t->nr) t->row[t->nr++] = cb_strdup(r);
    if (j == t->nc) {
      t->col[t->nc++] = cb_strdup(c);
      t->order[j] = sqlite3_column_double(st, 2);
    }
    char cell[128] = "-";
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
      int u = snprintf(cell, sizeof cell, "%.4f", sqlite3_column_double(st, 3));
      if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        u += snprintf(cell + u, sizeof cell - (size_t)u, " ± %.4f", sqlite3_column_double(st, 4));
      snprintf(cell + u, sizeof cell - (size_t)u, " (n=%d)", sqlite3_column_int(st, 5));
    }
    free(t->cell[i][j]);
    t->cell[i][j] = cb_strdup(cell);
  }
  sqlite3_finalize(st);
  /* columns by order (insertion sort keeps ties in order of appearance) */
  int perm[PIV_COLS];
  for (int j = 0; j < t->nc; j++)
    perm[j] = j;
  for (int j = 1; j < t->nc; j++)
    for (int k = j; k > 0 && t->order[perm[k - 1]] > t->order[perm[k]]; k--) {
      int x = perm[k];
      perm[k] = perm[k - 1];
      perm[k - 1] = x;
    }
  if (t->nr) {
    fputs("<table>\n", p->html);
    row_begin(p);
    row_cell(p, corner, 0, 1);
    for (int j = 0; j < t->nc; j++)
      row_cell(p, t->col[perm[j]], 0, 1);
    row_end(p, 1, t->nc + 1);
    for (int i = 0; i < t->nr; i++) {
      row_begin(p);
      row_cell(p, t->row[i], 0, 0);
      for (int j = 0; j < t->nc; j++)
        row_cell(p, t->cell[i][perm[j]] ? t->cell[i][perm[j]] : "", 1, 0);
      row_end(p, 0, t->nc + 1);
    }
    fputs("</table>\n", p->html);
  }
  if (dropped) para(p, "(more rows or columns than fit; see clipbench export)");
  if (rows_out) *rows_out = t->nr;
  for (int i = 0; i < t->nr; i++) {
    free(t->row[i]);
    for (int j = 0; j < t->nc; j++)
      free(t->cell[i][j]);
  }
  for (int j = 0; j < t->nc; j++)
    free(t->col[j]);
  free(t);
  return rc == SQLITE_DONE ? 0 : cb_store_err(p->s, rc, "report query");
}

/* ---- the experimental setup ---------------------------------------------------------- */

#define SCOPE                                                                                  \
  "(:sweep IS NULL OR r.id IN (SELECT sr.run_id FROM sweep_runs sr JOIN sweeps sw ON sw.id = " \
  "sr.sweep_id WHERE sw.name = :sweep))"

typedef struct {
  const char *item, *expr;
} setup_item;

static const setup_item SETUP[] = {
    {"data source", "r.data_source"},
    {"images in the data set (data.count)", "json_extract(r.config, '$.data.count')"},
    {"split", "json_extract(r.config, '$.data.split.by') || ' ' || "
              "json_extract(r.config, '$.data.split.fractions')"},
    {"training set size N (accountant)", "r.dataset_size"},
    {"image size", "r.image_h || ' x ' || r.image_w"},
    {"classes", "r.classes"},
    {"model", "r.arch || ' (width ' || r.width || ', depth ' || r.depth || ', ' || r.up || ')'"},
    {"trainable parameters", "r.arch || ': ' || r.n_params"},
    {"optimizer", "r.optimizer || coalesce(', momentum ' || json_extract(r.config, "
                  "'$.train.momentum'), '') || ', weight decay ' || r.weight_decay"},
    {"learning rate", "r.lr || ' (' || json_extract(r.config, '$.train.lr_schedule.kind') || ')'"},
    {"epochs", "r.epochs"},
    {"expected batch size", "r.batch_size"},
    {"sampling", "coalesce(r.sampling, json_extract(r.config, '$.train.sampling'))"},
    {"sampling rate q", "r.sample_rate"},
    {"steps T", "(SELECT max(step) FROM epochs e WHERE e.run_id = r.id)"},
    {"clipping", "r.clipping"},
    {"noise multiplier σ", "r.noise_multiplier"},
    {"target ε", "r.target_epsilon"},
    {"clip bound C", "r.clip_bound"},
    {"δ", "r.delta"},
    {"accountant (ε reported)", "r.accountant"},
    {"accountants run", "json_extract(r.config, '$.dp.accountants')"},
    {"DP guarantee", "CASE r.dp_guarantee WHEN 1 THEN 'yes' WHEN 0 THEN 'not a DP guarantee: ' || "
                     "coalesce(r.dp_caveat, '(no reason recorded)') END"},
    {"seeds", "r.seed"},
    {"backend", "r.backend"},
    {"host", "r.host"},
    {"clipbench revision of the runs", "r.git_rev"},
};

/* The distinct values of expr over the runs in scope, comma-separated. */
static int distinct_values(page *p, const char *expr, char *out, size_t n) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "SELECT group_concat(v, ', ') FROM (SELECT DISTINCT %s AS v FROM runs r WHERE " SCOPE
           " AND v IS NOT NULL ORDER BY 1)",
           expr);
  sqlite3_stmt *st;
  if (prepare(p, sql, &st)) return -1;
  int rc = cb_store_step(p->s, st);
  const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
  snprintf(out, n, "%s", t ? (const char *)t : "");
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : cb_store_err(p->s, rc, "report setup");
}

static int setup_block(page *p, char *privacy, size_t privacy_n) {
  heading(p, "Experimental setup");
  fputs("<table>\n", p->html);
  row_begin(p);
  row_cell(p, "", 0, 1);
  row_cell(p, "value(s) over the runs reported", 0, 1);
  row_end(p, 1, 2);
  char delta[256] = "", acc[256] = "", samp[256] = "", seeds[512] = "", guar[512] = "";
  for (size_t k = 0; k < sizeof SETUP / sizeof SETUP[0]; k++) {
    char v[2048];
    if (distinct_values(p, SETUP[k].expr, v, sizeof v)) return -1;
    if (!strcmp(SETUP[k].item, "δ")) snprintf(delta, sizeof delta, "%s", v);
    if (!strcmp(SETUP[k].item, "accountant (ε reported)")) snprintf(acc, sizeof acc, "%s", v);
    if (!strcmp(SETUP[k].item, "sampling")) snprintf(samp, sizeof samp, "%s", v);
    if (!strcmp(SETUP[k].item, "seeds")) snprintf(seeds, sizeof seeds, "%s", v);
    if (!strcmp(SETUP[k].item, "DP guarantee")) snprintf(guar, sizeof guar, "%s", v);
    if (!v[0]) {
      /* say what is missing rather than leave a row out */
      if (strstr(SETUP[k].item, "N (") || strstr(SETUP[k].item, "rate q") ||
          !strcmp(SETUP[k].item, "DP guarantee"))
        snprintf(v, sizeof v, "not recorded by the runs");
      else
        continue;
    }
    row_begin(p);
    row_cell(p, SETUP[k].item, 0, 0);
    row_cell(p, v, 0, 0);
    row_end(p, 0, 2);
  }
  row_begin(p);
  row_cell(p, "this report", 0, 0);
  char me[128];
  snprintf(me, sizeof me, "clipbench %s", cb_version_string());
  row_cell(p, me, 0, 0);
  row_end(p, 0, 2);
  fputs("</table>\n", p->html);
  snprintf(privacy, privacy_n, "ε at δ = %s (%s accountant, %s sampling%s%s); seeds %s",
           delta[0] ? delta : "-", acc[0] ? acc : "no", samp[0] ? samp : "-",
           strstr(guar, "not a DP") ? "; " : "", strstr(guar, "not a DP") ? guar : "",
           seeds[0] ? seeds : "-");
  return 0;
}

/* ---- warnings ------------------------------------------------------------------------ */

static void warn_item(void *ctx, const char *msg) {
  page *p = ctx;
  fputs("<li>", p->html);
  cb_html_text(p->html, msg);
  fputs("</li>\n", p->html);
  fprintf(p->md, "- %s\n", msg);
}

static int warnings(page *p) {
  heading(p, "Warnings");
  fputs("<ul>\n", p->html);
  int n = cb_bound_warnings(p->s, p->a->sweep, warn_item, p);
  if (n < 0) return -1;
  sqlite3_stmt *st;
  if (prepare(p,
              "SELECT r.id, r.name, r.error FROM runs r WHERE r.status = 'failed' AND " SCOPE
              " ORDER BY r.id",
              &st))
    return -1;
  while (cb_store_step(p->s, st) == SQLITE_ROW) {
    char msg[1024];
    snprintf(msg, sizeof msg, "run %s (%s) failed: %s", sqlite3_column_text(st, 0),
             sqlite3_column_text(st, 1),
             sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "-");
    warn_item(p, msg);
    n++;
  }
  sqlite3_finalize(st);
  char one[64];
  if (distinct_values(p,
                      "(SELECT count(*) FROM runs x WHERE x.status = 'finished' AND "
                      "json_remove(x.config, '$.seed', '$.name') = json_remove(r.config, "
                      "'$.seed', '$.name')) = 1 AND r.status = 'finished'",
                      one, sizeof one))
    return -1;
  if (strstr(one, "1")) {
    warn_item(p, "some configurations have one finished seed: their sd and confidence "
                 "interval are left blank (one value says nothing about the spread)");
    n++;
  }
  fputs("</ul>\n", p->html);
  if (!n) para(p, "None: every clip bound binds for some samples and not others, no run failed.");
  return 0;
}

/* ---- figures ------------------------------------------------------------------------- */

typedef struct {
  const char *base; /* file name without extension; "%s" = facet file name */
  int per_facet;
  const char *caption;
} figure;

static const figure FIGURES[] = {
    {"curves_val_dice_%s", 1, "Validation mean Dice per epoch (mean over seeds, band min-max)."},
    {"curves_val_acc_%s", 1, "Validation pixel accuracy per epoch."},
    {"curves_val_loss_%s", 1, "Validation loss per epoch."},
    {"curves_train_loss_%s", 1, "Training loss per epoch."},
    {"frontier_%s", 1, "Privacy-utility frontier: final Dice and accuracy against ε."},
    {"norms_%s", 1, "Per-sample gradient norms against the clip bound."},
    {"group_norms_%s", 1, "Per-sample norms of each clipping group against its own bound."},
    {"classes_%s", 1, "Per-class validation Dice (mean over seeds, 95% CI)."},
    {"audit_%s", 1,
     "Privacy audit: audited epsilon lower bounds (empirical) under the accountant's epsilon."},
    {"epsilon", 0, "Cumulative privacy loss per epoch for each noise multiplier."},
    {"time", 0, "Training time per method, with the ratio to non-private training."},
    {"heatmap", 0, "Final Dice over the clip bound x noise multiplier grid."},
};

static int figures(page *p, const char *privacy, int *n_figs) {
  heading(p, "Figures");
  /* The facets, as Makefile.plots draws them. */
  char files[64][256], names[64][512];
  int nf = 0;
  sqlite3_stmt *st;
  if (prepare(p, cb_export_find("frontier")->sql, &st)) return -1;
  int cf = col_index(st, "facet_file"), cn = col_index(st, "facet");
  while (cb_store_step(p->s, st) == SQLITE_ROW && nf < 64) {
    const char *f = (const char *)sqlite3_column_text(st, cf);
    int seen = 0;
    for (int k = 0; k < nf; k++)
      seen |= !strcmp(files[k], f);
    if (seen) continue;
    snprintf(files[nf], sizeof files[nf], "%s", f);
    snprintf(names[nf], sizeof names[nf], "%s", (const char *)sqlite3_column_text(st, cn));
    nf++;
  }
  sqlite3_finalize(st);
  *n_figs = 0;
  for (size_t k = 0; k < sizeof FIGURES / sizeof FIGURES[0]; k++) {
    const figure *fg = &FIGURES[k];
    for (int i = 0; i < (fg->per_facet ? nf : 1); i++) {
      char base[512], png[PATH_MAX + 600], cap[2048];
      snprintf(base, sizeof base, fg->base, fg->per_facet ? files[i] : "");
      snprintf(png, sizeof png, "%s/%s.png", p->a->figdir, base);
      if (access(png, R_OK) != 0) continue; /* e.g. no heat map for this sweep */
      snprintf(cap, sizeof cap, "%s%s%s %s.", fg->per_facet ? names[i] : "",
               fg->per_facet ? ": " : "", fg->caption, privacy);
      fputs("<figure><img alt=\"", p->html);
      cb_html_text(p->html, base);
      fputs("\" src=\"", p->html);
      embed_png(p->html, png);
      fputs("\"><figcaption>", p->html);
      cb_html_text(p->html, cap);
      fprintf(p->html, " <a href=\"figures/%s.pdf\">PDF</a></figcaption></figure>\n", base);
      fprintf(p->md, "![%s](figures/%s.png)\n\n%s ([PDF](figures/%s.pdf))\n\n", base, base, cap,
              base);
      (*n_figs)++;
    }
  }
  return 0;
}

/* ---- per-run drill-down -------------------------------------------------------------- */

static int drill_down(page *p) {
  heading(p, "Every run in detail");
  para(p, "Configuration (the resolved experiment), the curve per epoch and any error.");
  sqlite3_stmt *st;
  if (prepare(p, cb_export_find("runs")->sql, &st)) return -1;
  int c_id = col_index(st, "run_id"), c_label = col_index(st, "label"),
      c_seed = col_index(st, "seed"), c_status = col_index(st, "status"),
      c_err = col_index(st, "error");
  int rc;
  while ((rc = cb_store_step(p->s, st)) == SQLITE_ROW) {
    char id[32], title[1024];
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, c_id));
    snprintf(title, sizeof title, "%s seed %s: %s (run %s)",
             (const char *)sqlite3_column_text(st, c_label),
             (const char *)sqlite3_column_text(st, c_seed),
             (const char *)sqlite3_column_text(st, c_status), id);
    fputs("<details><summary>", p->html);
    cb_html_text(p->html, title);
    fputs("</summary>\n", p->html);
    fprintf(p->md, "\n### %s\n\n", title);
    if (sqlite3_column_type(st, c_err) != SQLITE_NULL) {
      char e[1200];
      snprintf(e, sizeof e, "Error: %s", (const char *)sqlite3_column_text(st, c_err));
      para(p, e);
    }
    sqlite3_stmt *q;
    if (cb_store_prepare(p->s, "SELECT config FROM runs WHERE id = ?1", &q, "report query")) break;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    if (cb_store_step(p->s, q) == SQLITE_ROW) {
      fputs("<pre>", p->html);
      cb_html_text(p->html, (const char *)sqlite3_column_text(q, 0));
      fputs("</pre>\n", p->html);
      fprintf(p->md, "```json\n%s\n```\n\n", (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    static const column_spec ep[] = {{"epoch", "epoch", 0, NULL},
                                     {"train_loss", "train loss", 4, NULL},
                                     {"val_loss", "val loss", 4, NULL},
                                     {"val_dice", "val Dice", 4, NULL},
                                     {"epsilon", "ε", 3, NULL},
                                     {"clip_bound", "C in force", 4, NULL},
                                     {"frac_clipped", "clipped", 3, NULL},
                                     {"norm_p50", "median norm", 4, NULL},
                                     {"epoch_seconds", "s", 2, NULL}};
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM epochs WHERE run_id = '%s' ORDER BY epoch", id);
    if (table(p, sql, ep, 9, NULL)) break;
    fputs("</details>\n", p->html);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the page ------------------------------------------------------------------------ */

static const char METHOD_SIGMA[] =
    "SELECT arch || ' ' || clipping || iif(clip_bound IS NULL, '', printf(' C=%%g', clip_bound))"
    " || coalesce(' ' || varies, '') AS r, CASE WHEN noise_multiplier IS NOT NULL THEN"
    " printf('σ = %%g', noise_multiplier) WHEN target_epsilon IS NOT NULL THEN"
    " printf('target ε = %%g', target_epsilon) ELSE 'non-private' END AS c,"
    " coalesce(noise_multiplier, 1e6 + target_epsilon, -1) AS o, val_dice, val_dice_ci95, n"
    " FROM (%s)";

static const char CLASS_PIVOT[] =
    "SELECT label AS r, coalesce(class_name, 'class ' || class) AS c, class AS o, %s, %s_ci95, n"
    " FROM (%s) WHERE %s IS NOT NULL";

int cb_report_write(cb_store *s, const cb_report_args *a, int *n_figs) {
  char hpath[PATH_MAX + 32], mpath[PATH_MAX + 32];
  snprintf(hpath, sizeof hpath, "%s/index.html", a->out);
  snprintf(mpath, sizeof mpath, "%s/report.md", a->out);
  page pg = {fopen(hpath, "w"), fopen(mpath, "w"), s, a};
  page *p = &pg;
  if (!p->html || !p->md) {
    if (p->html) fclose(p->html);
    if (p->md) fclose(p->md);
    return cb_error("cannot write %s: %s", hpath, strerror(errno));
  }
  int counts[4] = {0};
  int64_t sweep_id = 0;
  if (a->sweep) cb_store_find_sweep(s, a->sweep, &sweep_id);
  cb_store_status_counts(s, sweep_id, counts);
  const char *title = a->sweep ? a->sweep : "all runs";
  fprintf(p->html, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>clipbench: ");
  cb_html_text(p->html, title);
  fprintf(p->html,
          "</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;"
          "color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:3px 7px}td.n{text-align:right;font-variant-"
          "numeric:tabular-nums}th{background:#f3f3f3}figure{margin:1.5em 0}"
          "img{max-width:100%%}figcaption{font-size:13px;color:#555}pre{white-space:pre-wrap;"
          "font-size:12px;background:#f7f7f7;padding:6px}</style></head><body>\n<h1>"
          "clipbench report: ");
  cb_html_text(p->html, title);
  fprintf(p->html, "</h1>\n");
  fprintf(p->md, "# clipbench report: %s\n\n", title);
  char intro[PATH_MAX + 512];
  snprintf(intro, sizeof intro,
           "Database %s; runs: %d finished, %d running, %d pending, %d failed. clipbench %s. "
           "Configurations are told apart by every key that varies between them, and averaged "
           "only over seeds; ± is the half-width of the 95%% confidence interval of the mean "
           "over seeds (Student t), blank for one seed.",
           cb_store_path(s), counts[CB_RUN_FINISHED], counts[CB_RUN_RUNNING],
           counts[CB_RUN_PENDING], counts[CB_RUN_FAILED], cb_version_string());
  para(p, intro);

  char privacy[2048];
  int rc = setup_block(p, privacy, sizeof privacy);
  if (!rc) rc = warnings(p);

  static const column_spec arms[] = {
      {"label", "configuration", TEXT, NULL},
      {"n", "seeds", 0, NULL},
      {"val_dice", "val Dice ± 95% CI", 4, "val_dice_ci95"},
      {"val_dice_sd", "sd", 4, NULL},
      {"val_pixel_acc", "val accuracy ± 95% CI", 4, "val_pixel_acc_ci95"},
      {"test_dice", "test Dice ± 95% CI", 4, "test_dice_ci95"},
      {"epsilon", "ε", 3, NULL},
      {"delta", "δ", GENERAL, NULL},
      {"accountant", "accountant", TEXT, NULL},
      {"sampling", "sampling", TEXT, NULL},
      {"sample_rate", "q", GENERAL, NULL},
      {"dataset_size", "N", 0, NULL},
      {"steps", "T", 0, NULL},
      {"noise_multiplier", "σ", GENERAL, NULL},
      {"clip_bound", "C", GENERAL, NULL},
      {"guarantee", "privacy", TEXT, NULL},
  };
  if (!rc) {
    heading(p, "Summary per configuration (finished runs, over seeds)");
    rc = table(p, cb_export_find("arms")->sql, arms, 16, NULL);
  }
  char *sql = NULL;
  size_t cap = strlen(cb_export_find("arms")->sql) + strlen(cb_export_find("class_arms")->sql) +
               sizeof METHOD_SIGMA + sizeof CLASS_PIVOT + 256;
  if (!rc && !(sql = malloc(cap))) rc = cb_error("out of memory");
  if (!rc) {
    heading(p, "Validation Dice: method x noise multiplier");
    para(p, privacy);
    snprintf(sql, cap, METHOD_SIGMA, cb_export_find("arms")->sql);
    rc = pivot(p, sql, "method", NULL);
  }
  for (int test = 0; !rc && test < 2; test++) {
    int rows = 0;
    heading(p, test ? "Per-class Dice, test split (final weights)"
                    : "Per-class Dice, validation (last evaluated epoch)");
    snprintf(sql, cap, CLASS_PIVOT, test ? "test_dice" : "val_dice",
             test ? "test_dice" : "val_dice", cb_export_find("class_arms")->sql,
             test ? "test_dice" : "val_dice");
    rc = pivot(p, sql, "configuration", &rows);
    if (!rc && !rows) para(p, "Not stored for these runs.");
  }
  free(sql);
  if (!rc) rc = cb_report_audit(s, a->sweep, p->html, p->md, NULL);
  if (!rc) rc = figures(p, privacy, n_figs);
  static const column_spec runs[] = {
      {"label", "configuration", TEXT, NULL}, {"seed", "seed", 0, NULL},
      {"status", "status", TEXT, NULL},       {"epochs_done", "epochs", 0, NULL},
      {"val_dice", "val Dice", 4, NULL},      {"val_pixel_acc", "val accuracy", 4, NULL},
      {"test_dice", "test Dice", 4, NULL},    {"epsilon", "ε", 3, NULL},
      {"delta", "δ", GENERAL, NULL},          {"accountant", "accountant", TEXT, NULL},
      {"steps_total", "T", 0, NULL},          {"train_seconds", "train s", 1, NULL},
      {"guarantee", "privacy", TEXT, NULL}};
  if (!rc) {
    heading(p, "Every run (last epoch)");
    rc = table(p, cb_export_find("final")->sql, runs, 13, NULL);
  }
  if (!rc) rc = drill_down(p);
  fputs("</body></html>\n", p->html);
  errno = 0;
  int bad = ferror(p->html) || ferror(p->md);
  bad |= fclose(p->html) != 0;
  bad |= fclose(p->md) != 0;
  /* errno may be stale (SQLite ran since a failed write): only a full disk,
   * which persists, is named. */
  if (!rc && bad)
    rc = cb_io_no_space(errno) ? cb_io_error(errno, "writing %s failed", hpath)
                               : cb_error("writing %s failed", hpath);
  return rc;
}
