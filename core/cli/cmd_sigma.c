/* clipbench sigma: the smallest noise multiplier reaching a target epsilon. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "core/cli/privacy_opts.h"
#include "core/privacy/accountant.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int cb_cmd_sigma(int argc, char **argv) {
  cb_cli c;
  cb_privacy_opts o;
  double target = 0, tol = CB_SIGMA_TOLERANCE;
  cb_cli_init(
      &c, "clipbench sigma", "--target-epsilon E [options]",
      "Smallest noise multiplier whose epsilon does not exceed the target, by Opacus's "
      "search (sigma = 20, 40, ... until epsilon < E, then bisection until "
      "E - epsilon <= tolerance); the epsilon reported is that of the returned sigma "
      "and never exceeds E. gdp is an approximation, NOT a guarantee. " CB_PRIVACY_STEP_RULE);
  cb_privacy_opts_add(&c, &o);
  cb_cli_add(&c, "target-epsilon", CB_OPT_DOUBLE, &target, "E", "epsilon budget to reach");
  cb_cli_add(&c, "tolerance", CB_OPT_DOUBLE, &tol, "X",
             "stop when E - epsilon <= X (0.01, as Opacus)");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!cb_cli_given(&c, "target-epsilon")) return cb_error("missing --target-epsilon E");
  if (!(target > 0) || !isfinite(target))
    return cb_error("--target-epsilon must be a positive number, got %g", target);
  if (!(tol > 0) || !isfinite(tol))
    return cb_error("--tolerance must be a positive number, got %g", tol);
  if (cb_privacy_opts_resolve(&c, &o)) return -1;

  int first = o.accountant == CB_PRIVACY_ALL ? 0 : o.accountant;
  int last = o.accountant == CB_PRIVACY_ALL ? CB_ACC_COUNT - 1 : o.accountant;
  if (!o.json)
    printf("target epsilon = %g, %s, delta = %g\n\n%-10s  %-12s  %-12s  %s%s\n", target, o.how,
           o.delta, "accountant", "sigma", "epsilon", o.time ? "time       " : "",
           "what the epsilon is");
  for (int a = first; a <= last; a++) {
    cb_sigma_result s;
    double t0 = seconds_now();
    if (cb_sigma_search_tol(o.q, o.T, o.delta, target, (cb_accountant)a, tol, &s)) return -1;
    double secs = seconds_now() - t0;
    const cb_eps_result *r = &s.eps;
    if (o.json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "accountant", cb_accountant_name(r->accountant));
      cb_json_kv_str(&j, "requested", cb_accountant_name(r->requested));
      cb_json_kv_num(&j, "sigma", s.sigma);
      cb_json_kv_num(&j, "epsilon", r->epsilon);
      cb_json_kv_num(&j, "target_epsilon", target);
      cb_json_kv_num(&j, "delta", r->delta);
      cb_json_kv_num(&j, "alpha", r->alpha);
      cb_json_kv_bool(&j, "guarantee", r->is_guarantee);
      cb_json_kv_str(&j, "kind", r->is_guarantee ? "upper_bound" : "approximation");
      cb_json_kv_num(&j, "sample_rate", o.q);
      cb_json_kv_int(&j, "steps", o.T);
      cb_json_kv_int(&j, "evaluations", s.evaluations);
      cb_json_kv_str(&j, "note", r->note);
      if (o.time) cb_json_kv_num(&j, "seconds", secs);
      cb_json_obj_end(&j);
      printf("\n");
      continue;
    }
    char sb[32], eb[32], tb[32] = "";
    if (o.time) snprintf(tb, sizeof tb, "%8.1f ms ", secs * 1e3);
    snprintf(sb, sizeof sb, "%.10g", s.sigma);
    printf("%-10s  %-12s  %-12s  %s", cb_accountant_name(r->requested), sb,
           cb_privacy_fmt(r->epsilon, eb, 32), tb);
    if (r->accountant == CB_ACC_GDP)
      printf("APPROXIMATION (GDP/CLT): can underestimate, not a guarantee\n");
    else
      printf("%s\n", r->note);
  }
  return 0;
}
