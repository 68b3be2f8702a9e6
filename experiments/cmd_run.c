/* clipbench run FILE.yaml: resolves an experiment file (defaults, the file,
 * --set overrides) and trains it, or prints the resolved configuration. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "experiments/config.h"
#include "experiments/runner.h"
#include "results/run_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The closing lines: what came out, where it is, what to type next. */
static int summary(const cb_experiment *e, const char *db, int quiet) {
  char id[CB_RUN_ID_LEN + 1], line[1024];
  if (cb_exp_id(e, id)) return -1;
  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  cb_run_brief b;
  int rc = cb_run_brief_get(s, id, &b);
  cb_store_close(s);
  if (rc) return -1;
  cb_run_brief_line(&b, line, sizeof line);
  printf("run %s: %s; in %s\n", id, line, db);
  if (!quiet) {
    char cmd[3][1200];
    snprintf(cmd[0], sizeof cmd[0], "clipbench show %.8s --db %s", id, db);
    snprintf(cmd[1], sizeof cmd[1], "clipbench runs --db %s", db);
    snprintf(cmd[2], sizeof cmd[2], "clipbench export --db %s --query epochs", db);
    static const char *const WHAT[] = {"config, final and best metrics, epochs",
                                       "every run in the database (--filter KEY=VALUE)",
                                       "learning curves as TSV (gnuplot, pandas)"};
    int w = 0;
    for (int i = 0; i < 3; i++)
      if ((int)strlen(cmd[i]) > w) w = (int)strlen(cmd[i]);
    for (int i = 0; i < 3; i++)
      printf("%s %-*s  # %s\n", i ? "     " : "next:", w, cmd[i], WHAT[i]);
  }
  return 0;
}

int cb_cmd_run(int argc, char **argv) {
  cb_cli c;
  cb_strlist sets = {0};
  const char *db = CB_DEFAULT_DB;
  int print_config = 0, schema = 0, json = 0, quiet = 0;
  cb_cli_init(&c, "clipbench run", "FILE.yaml [options]",
              "Trains the experiment described by FILE.yaml and records every epoch in the "
              "results database. Keys not in the file take the defaults shown by "
              "--print-config; --set overrides any key by its dotted path "
              "(--set dp.clip_bound=2 --set data.size=[64,64]).");
  c.max_pos = 1;
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "set", CB_OPT_STRLIST, &sets, "KEY=VALUE",
             "override one key (dotted path, YAML value); may repeat");
  cb_cli_add(&c, "print-config", CB_OPT_FLAG, &print_config, NULL,
             "print the fully resolved configuration (YAML, or JSON with --json) and exit");
  cb_cli_add(&c, "schema", CB_OPT_FLAG, &schema, NULL,
             "print every key with its default and accepted values (Markdown) and exit");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "machine-readable output");
  cb_cli_add(&c, "quiet", CB_OPT_FLAG, &quiet, NULL, "no progress display");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (schema) {
    cb_exp_print_schema(stdout);
    return 0;
  }
  if (c.n_pos != 1) return cb_error("missing FILE.yaml; usage: clipbench run FILE.yaml [options]");
  const char *file = c.pos[0];

  cb_experiment *e = cb_malloc(sizeof *e, "experiment");
  if (!e) return -1;
  cb_exp_init(e);
  rc = cb_exp_load_file(e, file);
  for (int i = 0; !rc && i < sets.n; i++)
    rc = cb_exp_set(e, sets.v[i]);
  if (!rc) rc = cb_exp_resolve(e);
  if (!rc && print_config) {
    if (json) {
      char id[CB_RUN_ID_LEN + 1];
      char *cfg = cb_exp_to_json(e, CB_EXP_JSON_FULL);
      rc = cfg && !cb_exp_id(e, id) ? 0 : -1;
      if (!rc) printf("{\"run_id\":\"%s\",\"config\":%s}\n", id, cfg);
      free(cfg);
    } else {
      rc = cb_exp_print_yaml(e, stdout);
    }
  } else if (!rc) {
    cb_run_args a = {.db = db, .file = file, .quiet = quiet, .json = json, .retry_failed = 1};
    rc = cb_run_experiment(e, &a);
    if (!rc && !json) rc = summary(e, db, quiet);
  }
  free(e);
  return rc;
}
