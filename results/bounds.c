/* Clip bounds that do not do their job: a bound that never binds (no
 * per-sample norm above it) clips nothing while the noise is still sized for
 * it; one that always binds clips every sample, so the update is a sum of
 * rescaled directions. Both usually mean C was picked without looking at the
 * norms (clipbench norms). Read from the named query "bounds". */
#include "results/bounds.h"

#include "core/base/error.h"
#include "results/export.h"
#include "results/store_internal.h"

#include <stdio.h>
#include <string.h>

static int col(sqlite3_stmt *st, const char *name) {
  for (int k = 0; k < sqlite3_column_count(st); k++)
    if (strcmp(sqlite3_column_name(st, k), name) == 0) return k;
  return -1;
}

static const char *text(sqlite3_stmt *st, int k) {
  const unsigned char *t = k >= 0 ? sqlite3_column_text(st, k) : NULL;
  return t ? (const char *)t : "";
}

int cb_bound_warnings(cb_store *s, const char *sweep, cb_warning_fn emit, void *ctx) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, cb_export_find("bounds")->sql, &st, "checking the clip bounds"))
    return -1;
  cb_export_bind(st, sweep, NULL);
  int c_id = col(st, "run_id"), c_label = col(st, "label"), c_seed = col(st, "seed"),
      c_scope = col(st, "scope"), c_groups = col(st, "groups"), c_last = col(st, "last_epoch"),
      c_never = col(st, "never_binds"), c_always = col(st, "always_binds"),
      c_never_last = col(st, "never_binds_last"), c_always_last = col(st, "always_binds_last");
  int n = 0, rc;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW) {
    char msg[1024];
    const char *scope = text(st, c_scope);
    int groups = sqlite3_column_int(st, c_groups), last = sqlite3_column_int(st, c_last);
    int never = sqlite3_column_int(st, c_never), always = sqlite3_column_int(st, c_always);
    int never_last = sqlite3_column_int(st, c_never_last);
    int always_last = sqlite3_column_int(st, c_always_last);
    size_t u = (size_t)snprintf(msg, sizeof msg, "%s seed %s (run %s): ", text(st, c_label),
                                text(st, c_seed), text(st, c_id));
    if (strcmp(scope, "model") == 0) {
      snprintf(msg + u, sizeof msg - u,
               "C %s in epoch %d (%s sample's gradient norm was above it)%s",
               never_last ? "never binds" : "always binds", last, never_last ? "no" : "every",
               (never_last ? never : always) ? ", as in every epoch of the run" : "");
    } else {
      snprintf(msg + u, sizeof msg - u,
               "in epoch %d, C_k never binds for %d of %d %s groups (no per-sample norm above "
               "it) and always binds for %d (every sample above it); over the whole run: "
               "never %d, always %d",
               last, never_last, groups, scope, always_last, never, always);
    }
    emit(ctx, msg);
    n++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return cb_store_err(s, rc, "checking the clip bounds");
  return n;
}
