/* clipbench export: results as TSV (gnuplot), CSV or JSON lines. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/paths.h"
#include "core/cli/commands.h"
#include "results/export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *summary(void) {
  static char buf[4096];
  size_t used = (size_t)snprintf(
      buf, sizeof buf,
      "Writes results for gnuplot (tsv: header line, tabs, NaN for missing values, one gnuplot "
      "block per --group value), spreadsheets (csv) or pandas and scripts (json: one object per "
      "line). --query takes a named query or any read-only SQL over the tables sweeps, runs, "
      "sweep_runs, epochs, epoch_classes, layer_norms, test_metrics and test_classes.\n\nnamed "
      "queries:");
  for (int i = 0; i < CB_N_EXPORT_QUERIES && used < sizeof buf; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "\n  %-12s %s",
                             CB_EXPORT_QUERIES[i].name, CB_EXPORT_QUERIES[i].help);
  return buf;
}

int cb_cmd_export(int argc, char **argv) {
  cb_cli c;
  const char *db = CB_DEFAULT_DB, *query = "epochs", *sweep = NULL, *out = NULL, *group = NULL,
             *by = NULL;
  int format = 0, json = 0;
  cb_cli_init(&c, "clipbench export", "[--db DB] [--query NAME|SQL] [options]", summary());
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "query", CB_OPT_STR, &query, "NAME|SQL", "named query or SQL (epochs)");
  cb_cli_add_choice(&c, "format", &format, CB_EXPORT_FORMAT_NAMES, "output format (tsv)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "the same as --format json");
  cb_cli_add(&c, "sweep", CB_OPT_STR, &sweep, "NAME", "only the runs of this sweep");
  cb_cli_add(&c, "by", CB_OPT_STR, &by, "KEY[,KEY]",
             "facet the figure queries by these configuration keys (facet column); other keys "
             "that vary stay in the series names (default: every key that varies)");
  cb_cli_add(&c, "group", CB_OPT_STR, &group, "COLUMN",
             "tsv: a new gnuplot block (index) whenever COLUMN changes, e.g. run_id or label");
  cb_strlist filters = {0};
  cb_cli_add(&c, "filter", CB_OPT_STRLIST, &filters, "COLUMN=VALUE",
             "keep rows where COLUMN equals VALUE (numbers compare as numbers, null = missing); "
             "may repeat");
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "FILE",
             "write to FILE (atomically; folders created) instead of stdout");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (json) format = CB_EXPORT_JSON;

  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  cb_export_args a = {.query = query,
                      .sweep = sweep,
                      .by = by,
                      .format = format,
                      .group = group,
                      .filters = filters.v,
                      .n_filters = filters.n};
  FILE *f = stdout;
  char tmp[4096];
  if (out && cb_mkdir_parent(out)) return -1;
  if (out) {
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    f = fopen(tmp, "w");
    if (!f) {
      cb_store_close(s);
      return cb_error("cannot write %s: %s", tmp, strerror(errno));
    }
  }
  long rows = cb_export(s, &a, f);
  cb_store_close(s);
  if (out) {
    errno = 0;
    int bad = fclose(f) != 0;
    if (rows >= 0 && bad)
      rows =
          errno ? cb_io_error(errno, "writing %s failed", out) : cb_error("writing %s failed", out);
    if (rows >= 0 && rename(tmp, out) != 0)
      rows = cb_error("cannot rename %s to %s: %s", tmp, out, strerror(errno));
    if (rows < 0) remove(tmp);
  } else if (fflush(stdout) != 0 && rows >= 0) {
    rows = cb_error("writing to stdout failed");
  }
  return rows < 0 ? -1 : 0;
}
