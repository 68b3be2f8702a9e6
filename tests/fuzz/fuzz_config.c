/* Experiment files: load, resolve, and the --print-config round trip.
 *
 * Whatever loads and resolves must print (cb_exp_print_yaml, what `clipbench
 * run --print-config` shows) as YAML that loads and resolves again to the
 * same canonical JSON and run id, and so must the canonical JSON itself (a
 * sweep stores it and its workers load it back); resolving twice changes
 * nothing. A file
 * that does not load or resolve gets one line naming it. */
#include "core/base/error.h"
#include "experiments/config.h"
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz_experiment.yaml"

static char *printed(const cb_experiment *e) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CB_FUZZ_CHECK(f != NULL, "open_memstream");
  int rc = cb_exp_print_yaml(e, f);
  fclose(f);
  CB_FUZZ_CHECK(rc == 0, "print_yaml of a resolved configuration failed: %s", cb_last_error());
  return text;
}

int cb_fuzz_config(const uint8_t *data, size_t size) {
  char *text = cb_fuzz_text(data, size);
  if (!text) return 0;
  cb_experiment *e = malloc(sizeof *e), *r = malloc(sizeof *r);
  CB_FUZZ_CHECK(e && r, "out of memory");
  cb_exp_init(e);
  cb_error_clear();
  if (cb_exp_load_string(e, text, NAME)) {
    cb_fuzz_check_error("cb_exp_load_string", NAME);
    goto out;
  }
  cb_error_clear();
  if (cb_exp_resolve(e)) {
    /* Messages name where the offending value was set; a resolve error
     * caused only by defaults cannot happen (the defaults resolve). */
    cb_fuzz_check_error("cb_exp_resolve", NAME);
    goto out;
  }
  cb_fuzz_accepted("cb_exp_resolve");
  char id[CB_RUN_ID_LEN + 1], id2[CB_RUN_ID_LEN + 1];
  char *full = cb_exp_to_json(e, CB_EXP_JSON_FULL);
  CB_FUZZ_CHECK(full != NULL, "to_json: %s", cb_last_error());
  CB_FUZZ_CHECK(cb_exp_id(e, id) == 0, "id: %s", cb_last_error());
  CB_FUZZ_CHECK(strlen(id) == CB_RUN_ID_LEN, "id length");

  /* Resolving is idempotent. */
  *r = *e;
  CB_FUZZ_CHECK(cb_exp_resolve(r) == 0, "second resolve failed: %s", cb_last_error());
  char *full2 = cb_exp_to_json(r, CB_EXP_JSON_FULL);
  CB_FUZZ_CHECK(full2 && strcmp(full, full2) == 0, "resolve is not idempotent:\n%s\n%s", full,
                full2 ? full2 : "(null)");
  free(full2);

  /* --print-config loads back to the same configuration. */
  char *yaml = printed(e);
  cb_exp_init(r);
  int rc = cb_exp_load_string(r, yaml, "printed.yaml");
  CB_FUZZ_CHECK(rc == 0, "printed YAML does not load: %s\n%s", cb_last_error(), yaml);
  rc = cb_exp_resolve(r);
  CB_FUZZ_CHECK(rc == 0, "printed YAML does not resolve: %s\n%s", cb_last_error(), yaml);
  full2 = cb_exp_to_json(r, CB_EXP_JSON_FULL);
  CB_FUZZ_CHECK(full2 && strcmp(full, full2) == 0,
                "printed YAML gives another configuration:\nloaded:  %s\nprinted: %s\n%s", full,
                full2 ? full2 : "(null)", yaml);
  CB_FUZZ_CHECK(cb_exp_id(r, id2) == 0 && strcmp(id, id2) == 0,
                "printed YAML gives another run id (%s, %s)", id, id2);
  free(full2);
  free(yaml);

  /* The canonical JSON is what a sweep stores and its workers load back
   * (sweep_worker.c): it must give the same run. */
  cb_exp_init(r);
  rc = cb_exp_load_string(r, full, "stored.json");
  CB_FUZZ_CHECK(rc == 0, "canonical JSON does not load: %s\n%s", cb_last_error(), full);
  rc = cb_exp_resolve(r);
  CB_FUZZ_CHECK(rc == 0, "canonical JSON does not resolve: %s\n%s", cb_last_error(), full);
  full2 = cb_exp_to_json(r, CB_EXP_JSON_FULL);
  CB_FUZZ_CHECK(full2 && strcmp(full, full2) == 0,
                "canonical JSON gives another configuration:\nloaded: %s\nagain:  %s", full,
                full2 ? full2 : "(null)");
  CB_FUZZ_CHECK(cb_exp_id(r, id2) == 0 && strcmp(id, id2) == 0,
                "canonical JSON gives another run id (%s, %s)", id, id2);
  free(full2);
  free(full);
out:
  free(e);
  free(r);
  free(text);
  return 0;
}

CB_FUZZ_ENTRY(config)
