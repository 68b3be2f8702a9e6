/* Placeholder until the training loop lands (issue 6): the configuration,
 * store and export layers are in place; this is where they meet the core. */
#include "experiments/runner.h"

#include "core/base/error.h"

int cb_run_experiment(const cb_experiment *e, const cb_run_args *a) {
  (void)e;
  return cb_error("%s: training is not implemented yet; --print-config shows the resolved "
                  "configuration",
                  a->file);
}
