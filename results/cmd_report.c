/* clipbench report: one self-contained HTML page (and a Markdown twin) with a
 * sweep's figures and its summary tables, so an overnight sweep can be read
 * at a glance. The figures come from Makefile.plots (gnuplot); the tables
 * from the same named queries as `clipbench export`. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/paths.h"
#include "core/base/version.h"
#include "core/cli/commands.h"
#include "results/datadir.h"
#include "results/export.h"
#include "results/report.h"
#include "results/store_internal.h"
#include "results/study_report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Runs make -f Makefile.plots in the source tree; its messages go to stderr. */
static int render(const char *plots_dir, const char *db, const char *sweep, const char *by,
                  const char *figdir, const char *formats, int quiet) {
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return cb_error("cannot find the clipbench binary (/proc/self/exe)");
  self[len] = 0;
  char a_db[PATH_MAX + 8], a_out[PATH_MAX + 8], a_cb[PATH_MAX + 16], a_sw[512], a_fmt[128],
      a_by[512];
  snprintf(a_db, sizeof a_db, "DB=%s", db);
  snprintf(a_out, sizeof a_out, "OUT=%s", figdir);
  snprintf(a_cb, sizeof a_cb, "CLIPBENCH=%s", self);
  snprintf(a_sw, sizeof a_sw, "SWEEP=%s", sweep ? sweep : "");
  snprintf(a_fmt, sizeof a_fmt, "FORMATS=%s", formats);
  snprintf(a_by, sizeof a_by, "BY=%s", by ? by : "");
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
           a_out, a_cb, a_sw, a_fmt, a_by, (char *)NULL);
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
  for (int i = 1; i < argc; i++) /* the study's reproduction report: its own options */
    if (strcmp(argv[i], "--study") == 0) return cb_study_report(argc, argv);
  cb_cli c;
  const char *db = CB_DEFAULT_DB, *sweep = NULL, *out = NULL, *plots = NULL, *by = NULL;
  const char *formats = "png pdf";
  int json = 0, quiet = 0;
  cb_cli_init(&c, "clipbench report", "--db DB [--sweep NAME] --out DIR [options]",
              "Renders a sweep's figures (Makefile.plots, gnuplot) into DIR/figures and writes\n"
              "DIR/index.html, one self-contained page (figures embedded, summary tables per\n"
              "configuration and per run), and DIR/report.md. Without --sweep: every run.");
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "sweep", CB_OPT_STR, &sweep, "NAME", "the sweep to report (default: all runs)");
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "DIR", "output folder (created)");
  cb_cli_add(&c, "by", CB_OPT_STR, &by, "KEY[,KEY]",
             "configuration keys to split figures by (default: every key the runs vary in "
             "besides method, sigma and C); other varying keys become series");
  cb_cli_add(&c, "plots", CB_OPT_STR, &plots, "DIR",
             "folder holding Makefile.plots and plots/ (default: the installed share/clipbench, "
             "$CLIPBENCH_DATA_DIR, or the source tree)");
  cb_cli_add(&c, "formats", CB_OPT_STR, &formats, "LIST", "figure formats (\"png pdf\")");
  cb_cli_add(&c, "quiet", CB_OPT_FLAG, &quiet, NULL, "no rendering messages");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON summary on stdout");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out DIR is required");
  char data_dir[PATH_MAX];
  if (!plots) {
    if (cb_data_dir(data_dir, sizeof data_dir)) return -1;
    plots = data_dir;
  }
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
  if (!rc) rc = cb_mkdir_p(figdir);
  if (!rc && by) rc = cb_export_check_by(s, by);
  if (!rc) rc = render(plots, a_db, sweep, by, figdir, formats, quiet);
  int n_figs = 0;
  cb_report_args ra = {sweep, by, a_out, figdir};
  if (!rc) rc = cb_report_write(s, &ra, &n_figs);
  cb_store_close(s);
  if (rc) return -1;
  if (json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    char html[PATH_MAX + 16], md[PATH_MAX + 16];
    snprintf(html, sizeof html, "%s/index.html", a_out);
    snprintf(md, sizeof md, "%s/report.md", a_out);
    cb_json_kv_str(&j, "html", html);
    cb_json_kv_str(&j, "markdown", md);
    cb_json_kv_int(&j, "figures", n_figs);
    cb_json_obj_end(&j);
    printf("\n");
  } else {
    printf("report: %s/index.html (%d figures embedded), %s/report.md, figures in %s\n", out,
           n_figs, out, figdir);
  }
  return 0;
}
