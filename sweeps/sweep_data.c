/* The early data check of a sweep: every distinct dataset its runs read is
 * loaded once, as training would load it, before anything is frozen, trained
 * or queued on a cluster (otherwise every run, or every array task, would
 * fail the same way after the fact). */
#include "core/base/error.h"
#include "experiments/trainer.h"
#include "sweeps/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What decides whether two runs load the same data the same way: the data
 * section (source, path, size, classes, split, normalisation) and the class
 * count, as their canonical JSON. */
static char *data_key(const cb_experiment *e) {
  char *json = cb_exp_to_json(e, CB_EXP_JSON_FULL);
  if (!json) return NULL;
  const char *d = strstr(json, "\"data\":");
  size_t len = strlen(d ? d : json) + 32;
  char *key = malloc(len);
  if (key) snprintf(key, len, "%d|%s", e->model.classes, d ? d : json);
  free(json);
  return key;
}

int cb_sweep_check_data(const cb_sweep *sw) {
  char **seen = calloc((size_t)sw->n_runs + 1, sizeof *seen);
  cb_experiment *e = malloc(sizeof *e);
  if (!seen || !e) {
    free(seen);
    free(e);
    return cb_error("out of memory");
  }
  int n_seen = 0, rc = 0;
  for (int i = 0; !rc && i < sw->n_runs; i++) {
    const cb_sweep_run *r = &sw->runs[i];
    cb_exp_init(e);
    if (cb_exp_load_string(e, r->config, r->name) || cb_exp_resolve(e)) {
      rc = -1;
      break;
    }
    if (e->data.source == CB_DATA_SYNTHETIC) continue;
    char *key = data_key(e);
    if (!key) {
      rc = cb_error("out of memory");
      break;
    }
    int dup = 0;
    for (int k = 0; k < n_seen && !dup; k++)
      dup = strcmp(seen[k], key) == 0;
    if (dup) {
      free(key);
      continue;
    }
    seen[n_seen++] = key;
    if (cb_trainer_check_data(e))
      rc = cb_error_prefix("%s: run %s (%s): data.path %s: ", sw->file, r->id, r->name,
                           e->data.path);
  }
  for (int k = 0; k < n_seen; k++)
    free(seen[k]);
  free(seen);
  free(e);
  return rc;
}
