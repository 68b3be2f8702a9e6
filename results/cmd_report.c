/* clipbench report: one self-contained HTML page (and a Markdown twin) with a
 * sweep's figures and its summary tables, so an overnight sweep can be read
 * at a glance. The figures come from Makefile.plots (gnuplot); the tables
 * from the same named queries as `clipbench export`. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/version.h"
#include "core/cli/commands.h"
#include "results/export.h"
#include "results/store_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CB_SOURCE_DIR
#define CB_SOURCE_DIR "."
#endif

/* The figures in page order with their captions. */
typedef struct {
  const char *base; /* file name without extension; "%s" = architecture */
  int per_arch;
  const char *caption;
} figure;

static const figure FIGURES[] = {
    {"curves_val_dice_%s", 1, "Validation mean Dice per epoch."},
    {"curves_val_acc_%s", 1, "Validation pixel accuracy per epoch."},
    {"curves_val_loss_%s", 1, "Validation loss per epoch."},
    {"curves_train_loss_%s", 1, "Training loss per epoch."},
    {"frontier_%s", 1, "Privacy-utility frontier: final Dice and accuracy against epsilon."},
    {"norms_%s", 1, "Per-sample gradient norms against the clip bound."},
    {"epsilon", 0, "Privacy loss per epoch for each noise multiplier."},
    {"time", 0, "Training time per method."},
    {"heatmap", 0, "Final Dice over the clip bound x noise multiplier grid."},
};

static int abs_path(const char *in, char *out, size_t n) {
  if (in[0] == '/') {
    snprintf(out, n, "%s", in);
    return 0;
  }
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd))
    return cb_error("cannot read the current folder: %s", strerror(errno));
  snprintf(out, n, "%s/%s", cwd, in);
  return 0;
}

static int mkdirs(const char *dir) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0777) && errno != EEXIST)
      return cb_error("cannot create %s: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) && errno != EEXIST)
    return cb_error("cannot create %s: %s", buf, strerror(errno));
  return 0;
}

/* Runs make -f Makefile.plots in the source tree; its messages go to stderr. */
static int render(const char *plots_dir, const char *db, const char *sweep, const char *figdir,
                  const char *formats, int quiet) {
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return cb_error("cannot find the clipbench binary (/proc/self/exe)");
  self[len] = 0;
  char a_db[PATH_MAX + 8], a_out[PATH_MAX + 8], a_cb[PATH_MAX + 16], a_sw[512], a_fmt[128];
  snprintf(a_db, sizeof a_db, "DB=%s", db);
  snprintf(a_out, sizeof a_out, "OUT=%s", figdir);
  snprintf(a_cb, sizeof a_cb, "CLIPBENCH=%s", self);
  snprintf(a_sw, sizeof a_sw, "SWEEP=%s", sweep ? sweep : "");
  snprintf(a_fmt, sizeof a_fmt, "FORMATS=%s", formats);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return cb_error("cannot start make: %s", strerror(errno));
  if (pid == 0) {
    if (quiet) {
      FILE *devnull = freopen("/dev/null", "w", stdout);
      (void)devnull;
    } else if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
      _exit(127);
    }
    execlp("make", "make", "--no-print-directory", "-C", plots_dir, "-f", "Makefile.plots", a_db,
           a_out, a_cb, a_sw, a_fmt, (char *)NULL);
    fprintf(stderr, "clipbench report: cannot run make: %s\n", strerror(errno));
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0) return cb_error("waiting for make failed");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return cb_error("rendering the figures failed (see the messages above; make -f "
                    "%s/Makefile.plots %s %s)",
                    plots_dir, a_db, a_out);
  return 0;
}

static void html_text(FILE *f, const char *s) {
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

/* A table from a named query, in HTML or Markdown, with chosen columns. */
typedef struct {
  const char *col, *head;
  int digits; /* -1: text */
} column_spec;

static int table(cb_store *s, const char *query, const char *sweep, const column_spec *cols,
                 int ncols, FILE *html, FILE *md, int *rows_out) {
  const cb_export_query *q = cb_export_find(query);
  sqlite3_stmt *st;
  if (cb_store_prepare(s, q->sql, &st, "report query")) return -1;
  int sp = sqlite3_bind_parameter_index(st, ":sweep");
  if (sp) {
    if (sweep)
      sqlite3_bind_text(st, sp, sweep, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, sp);
  }
  int idx[32];
  for (int c = 0; c < ncols; c++) {
    idx[c] = -1;
    for (int k = 0; k < sqlite3_column_count(st); k++)
      if (strcmp(sqlite3_column_name(st, k), cols[c].col) == 0) idx[c] = k;
  }
  fputs("<table>\n<tr>", html);
  fputs("|", md);
  for (int c = 0; c < ncols; c++) {
    fputs("<th>", html);
    html_text(html, cols[c].head);
    fputs("</th>", html);
    fprintf(md, " %s |", cols[c].head);
  }
  fputs("</tr>\n", html);
  fputs("\n|", md);
  for (int c = 0; c < ncols; c++)
    fputs(" --- |", md);
  fputs("\n", md);
  int rows = 0, rc;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW) {
    fputs("<tr>", html);
    fputs("|", md);
    for (int c = 0; c < ncols; c++) {
      char cell[256] = "";
      int k = idx[c];
      if (k < 0 || sqlite3_column_type(st, k) == SQLITE_NULL)
        snprintf(cell, sizeof cell, "-");
      else if (cols[c].digits < 0)
        snprintf(cell, sizeof cell, "%s", (const char *)sqlite3_column_text(st, k));
      else
        snprintf(cell, sizeof cell, "%.*f", cols[c].digits, sqlite3_column_double(st, k));
      fputs(cols[c].digits < 0 ? "<td>" : "<td class=\"n\">", html);
      html_text(html, cell);
      fputs("</td>", html);
      fprintf(md, " %s |", cell);
    }
    fputs("</tr>\n", html);
    fputs("\n", md);
    rows++;
  }
  sqlite3_finalize(st);
  fputs("</table>\n", html);
  if (rc != SQLITE_DONE) return cb_store_err(s, rc, "report query");
  if (rows_out) *rows_out = rows;
  return 0;
}

static int write_pages(cb_store *s, const char *sweep, const char *out, const char *figdir,
                       const char *archs, int *n_figs) {
  char hpath[PATH_MAX + 32], mpath[PATH_MAX + 32];
  snprintf(hpath, sizeof hpath, "%s/index.html", out);
  snprintf(mpath, sizeof mpath, "%s/report.md", out);
  FILE *html = fopen(hpath, "w"), *md = fopen(mpath, "w");
  if (!html || !md) {
    if (html) fclose(html);
    if (md) fclose(md);
    return cb_error("cannot write %s: %s", hpath, strerror(errno));
  }
  int counts[4] = {0};
  int64_t sweep_id = 0;
  if (sweep) cb_store_find_sweep(s, sweep, &sweep_id);
  cb_store_status_counts(s, sweep_id, counts);
  const char *title = sweep ? sweep : "all runs";
  fprintf(html, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>clipbench: ");
  html_text(html, title);
  fprintf(html, "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;"
                "color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}"
                "td,th{border:1px solid #ccc;padding:3px 7px}td.n{text-align:right;font-variant-"
                "numeric:tabular-nums}th{background:#f3f3f3}figure{margin:1.5em 0}"
                "img{max-width:100%%}figcaption{font-size:13px;color:#555}</style></head><body>\n");
  fprintf(html, "<h1>clipbench report: ");
  html_text(html, title);
  fprintf(html, "</h1>\n<p>Database <code>");
  html_text(html, cb_store_path(s));
  fprintf(html,
          "</code>; runs: %d finished, %d running, %d pending, %d failed. clipbench %s.</p>\n",
          counts[CB_RUN_FINISHED], counts[CB_RUN_RUNNING], counts[CB_RUN_PENDING],
          counts[CB_RUN_FAILED], cb_version_string());
  fprintf(md,
          "# clipbench report: %s\n\nDatabase `%s`; runs: %d finished, %d running, %d pending, "
          "%d failed. clipbench %s.\n\n",
          title, cb_store_path(s), counts[CB_RUN_FINISHED], counts[CB_RUN_RUNNING],
          counts[CB_RUN_PENDING], counts[CB_RUN_FAILED], cb_version_string());

  static const column_spec arms[] = {{"label", "configuration", -1},
                                     {"n", "seeds", 0},
                                     {"val_dice", "val Dice (mean)", 4},
                                     {"val_dice_sd", "sd", 4},
                                     {"val_pixel_acc", "val accuracy", 4},
                                     {"val_pixel_acc_sd", "sd", 4},
                                     {"epsilon", "epsilon", 3},
                                     {"test_dice", "test Dice (final)", 4},
                                     {"dp_status", "privacy", -1}};
  static const column_spec runs[] = {
      {"label", "configuration", -1},   {"seed", "seed", 0},
      {"status", "status", -1},         {"epochs_done", "epochs", 0},
      {"val_dice", "val Dice", 4},      {"val_pixel_acc", "val accuracy", 4},
      {"val_loss", "val loss", 4},      {"epsilon", "epsilon", 3},
      {"accountant", "accountant", -1}, {"train_seconds", "train s", 1},
      {"test_dice", "test Dice", 4},    {"best_val_test_dice", "test Dice (best val)", 4},
      {"dp_status", "privacy", -1}};
  fputs("<h2>Summary per configuration (finished runs, over seeds)</h2>\n", html);
  fputs("## Summary per configuration (finished runs, over seeds)\n\n", md);
  int rc = table(s, "arms", sweep, arms, (int)(sizeof arms / sizeof arms[0]), html, md, NULL);
  fputs("<h2>Figures</h2>\n", html);
  fputs("\n## Figures\n\n", md);
  *n_figs = 0;
  for (size_t k = 0; !rc && k < sizeof FIGURES / sizeof FIGURES[0]; k++) {
    const figure *fg = &FIGURES[k];
    char list[512];
    snprintf(list, sizeof list, "%s", fg->per_arch ? archs : "-");
    for (char *a = strtok(list, " "); a; a = strtok(NULL, " ")) {
      char base[256], png[PATH_MAX + 300];
      snprintf(base, sizeof base, fg->base, a);
      snprintf(png, sizeof png, "%s/%s.png", figdir, base);
      if (access(png, R_OK) != 0) continue; /* e.g. no heat map for this sweep */
      fputs("<figure><img alt=\"", html);
      html_text(html, base);
      fputs("\" src=\"", html);
      embed_png(html, png);
      fprintf(html, "\"><figcaption>");
      html_text(html, fg->caption);
      fprintf(html, " <a href=\"figures/%s.pdf\">PDF</a></figcaption></figure>\n", base);
      fprintf(md, "![%s](figures/%s.png)\n\n%s ([PDF](figures/%s.pdf))\n\n", base, base,
              fg->caption, base);
      (*n_figs)++;
    }
  }
  if (!rc) {
    fputs("<h2>Every run (last epoch)</h2>\n", html);
    fputs("## Every run (last epoch)\n\n", md);
    rc = table(s, "final", sweep, runs, (int)(sizeof runs / sizeof runs[0]), html, md, NULL);
  }
  fputs("</body></html>\n", html);
  errno = 0;
  int bad = ferror(html) || ferror(md);
  bad |= fclose(html) != 0;
  bad |= fclose(md) != 0;
  /* errno may be stale (SQLite ran since a failed write): only a full disk,
   * which persists, is named. */
  if (!rc && bad)
    rc = cb_io_no_space(errno) ? cb_io_error(errno, "writing %s failed", hpath)
                               : cb_error("writing %s failed", hpath);
  return rc;
}

/* Architectures with finished runs (space separated). */
static int finished_archs(cb_store *s, const char *sweep, char *out, size_t n, int *finished) {
  const char *sql =
      "SELECT DISTINCT arch FROM runs r WHERE r.status = 'finished' AND (:sweep IS NULL OR r.id IN "
      "(SELECT sr.run_id FROM sweep_runs sr JOIN sweeps sw ON sw.id = sr.sweep_id WHERE sw.name = "
      ":sweep)) ORDER BY arch";
  sqlite3_stmt *st;
  if (cb_store_prepare(s, sql, &st, "listing architectures")) return -1;
  if (sweep)
    sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 1);
  out[0] = 0;
  *finished = 0;
  while (cb_store_step(s, st) == SQLITE_ROW) {
    size_t u = strlen(out);
    snprintf(out + u, n - u, "%s%s", u ? " " : "", (const char *)sqlite3_column_text(st, 0));
    (*finished)++;
  }
  sqlite3_finalize(st);
  return 0;
}

int cb_cmd_report(int argc, char **argv) {
  cb_cli c;
  const char *db = CB_DEFAULT_DB, *sweep = NULL, *out = NULL, *plots = CB_SOURCE_DIR;
  const char *formats = "png pdf";
  int json = 0, quiet = 0;
  cb_cli_init(&c, "clipbench report", "--db DB [--sweep NAME] --out DIR [options]",
              "Renders a sweep's figures (Makefile.plots, gnuplot) into DIR/figures and writes\n"
              "DIR/index.html, one self-contained page (figures embedded, summary tables per\n"
              "configuration and per run), and DIR/report.md. Without --sweep: every run.");
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "sweep", CB_OPT_STR, &sweep, "NAME", "the sweep to report (default: all runs)");
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "DIR", "output folder (created)");
  cb_cli_add(&c, "plots", CB_OPT_STR, &plots, "DIR",
             "folder holding Makefile.plots and plots/ (default: the source tree)");
  cb_cli_add(&c, "formats", CB_OPT_STR, &formats, "LIST", "figure formats (\"png pdf\")");
  cb_cli_add(&c, "quiet", CB_OPT_FLAG, &quiet, NULL, "no rendering messages");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON summary on stdout");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out DIR is required");
  char mk[PATH_MAX + 32];
  snprintf(mk, sizeof mk, "%s/Makefile.plots", plots);
  if (access(mk, R_OK) != 0)
    return cb_error("%s not found; pass --plots DIR (the clipbench source folder)", mk);
  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  if (sweep) {
    int64_t id;
    int found = cb_store_find_sweep(s, sweep, &id);
    if (found <= 0) {
      cb_store_close(s);
      return found < 0 ? -1
                       : cb_error("%s: no sweep called '%s' (see clipbench status --db %s)", db,
                                  sweep, db);
    }
  }
  char archs[512], a_db[PATH_MAX], a_out[PATH_MAX], figdir[PATH_MAX + 16];
  int finished = 0;
  rc = finished_archs(s, sweep, archs, sizeof archs, &finished);
  if (!rc && finished == 0)
    rc = cb_error("%s: %s has no finished runs yet; nothing to report (clipbench status --db %s)",
                  db, sweep ? sweep : "the database", db);
  if (!rc) rc = abs_path(db, a_db, sizeof a_db);
  if (!rc) rc = abs_path(out, a_out, sizeof a_out);
  snprintf(figdir, sizeof figdir, "%s/figures", a_out);
  if (!rc) rc = mkdirs(figdir);
  if (!rc) rc = render(plots, a_db, sweep, figdir, formats, quiet);
  int n_figs = 0;
  if (!rc) rc = write_pages(s, sweep, a_out, figdir, archs, &n_figs);
  cb_store_close(s);
  if (rc) return -1;
  if (json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "html", a_out);
    cb_json_kv_int(&j, "figures", n_figs);
    cb_json_obj_end(&j);
    printf("\n");
  } else {
    printf("report: %s/index.html (%d figures embedded), %s/report.md, figures in %s\n", out,
           n_figs, out, figdir);
  }
  return 0;
}
