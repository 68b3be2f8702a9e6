/* clipbench epsilon: privacy spent by DP-SGD for given q, sigma, steps, delta. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "core/cli/privacy_opts.h"
#include "core/privacy/accountant.h"
#include "results/run_epsilon.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void print_json(const cb_privacy_opts *o, double sigma, const cb_eps_result *r,
                       double secs) {
  cb_json j;
  cb_json_init_file(&j, stdout);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "accountant", cb_accountant_name(r->accountant));
  cb_json_kv_str(&j, "requested", cb_accountant_name(r->requested));
  cb_json_kv_num(&j, "epsilon", r->epsilon);
  cb_json_kv_num(&j, "delta", r->delta);
  cb_json_kv_num(&j, "alpha", r->alpha);
  cb_json_kv_bool(&j, "guarantee", r->is_guarantee);
  cb_json_kv_str(&j, "kind", r->is_guarantee ? "upper_bound" : "approximation");
  cb_json_kv_num(&j, "sigma", sigma);
  cb_json_kv_num(&j, "sample_rate", o->q);
  cb_json_kv_int(&j, "steps", o->T);
  cb_json_kv_str(&j, "note", r->note);
  if (o->time) cb_json_kv_num(&j, "seconds", secs);
  cb_json_obj_end(&j);
  printf("\n");
}

int cb_cmd_epsilon(int argc, char **argv) {
  cb_cli c;
  cb_privacy_opts o;
  double sigma = 0;
  cb_cli_init(&c, "clipbench epsilon", "[options]",
              "Epsilon spent by DP-SGD with the Poisson-subsampled Gaussian mechanism "
              "(add/remove-one adjacency). rdp: Renyi DP as Opacus (a guarantee); prv: "
              "Gopi et al. numerical composition, upper bound (a guarantee up to eps_error "
              "0.01; falls back to RDP where it cannot be computed); gdp: central-limit "
              "approximation, NOT a guarantee; pld: privacy loss distribution as "
              "dp_accounting's PLDAccountant (pessimistic discretisation at interval 1e-4, "
              "worse of add and remove; an upper bound; falls back to RDP where it cannot be "
              "computed). " CB_PRIVACY_STEP_RULE
              " --run ID [--db DB]: a stored run's epsilon, recomputed from its stored sample "
              "rate, steps and sigma history, next to the value it recorded.");
  cb_privacy_opts_add(&c, &o);
  cb_cli_add(&c, "sigma", CB_OPT_DOUBLE, &sigma, "S", "noise multiplier (noise std / clip bound)");
  const char *run = NULL, *db = CB_DEFAULT_DB;
  cb_cli_add(&c, "run", CB_OPT_STR, &run, "ID",
             "recompute stored run ID's epsilon from its stored q, steps and sigma history");
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database of --run (" CB_DEFAULT_DB ")");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (run) {
    static const char *const own[] = {"sample-rate", "batch-size", "dataset-size",     "steps",
                                      "epochs",      "sigma",      "sample-rate-rule", "time"};
    for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
      if (cb_cli_given(&c, own[k]))
        return cb_error("--run takes q, steps and sigma from the database; drop --%s", own[k]);
    if (cb_cli_given(&c, "delta") && !(o.delta > 0 && o.delta < 1))
      return cb_error("--delta must be in (0, 1), got %g", o.delta);
    return cb_run_epsilon_print(db, run, o.accountant == CB_PRIVACY_ALL ? -1 : o.accountant,
                                cb_cli_given(&c, "delta") ? o.delta : NAN, o.json);
  }
  if (cb_cli_given(&c, "db")) return cb_error("--db goes with --run ID");
  if (cb_privacy_opts_resolve(&c, &o)) return -1;
  if (!cb_cli_given(&c, "sigma")) return cb_error("missing --sigma S (the noise multiplier)");
  if (!(sigma >= 0) || !isfinite(sigma))
    return cb_error("--sigma must be a finite number >= 0, got %g", sigma);

  cb_history h;
  cb_history_init(&h);
  if (cb_history_add(&h, sigma, o.q, o.T)) return -1;
  int first = o.accountant == CB_PRIVACY_ALL ? 0 : o.accountant;
  int last = o.accountant == CB_PRIVACY_ALL ? CB_ACC_COUNT - 1 : o.accountant;
  if (!o.json)
    printf("sigma = %g, %s, delta = %g\n\n%-10s  %-12s  %s%s\n", sigma, o.how, o.delta,
           "accountant", "epsilon", o.time ? "time       " : "", "what the number is");
  for (int a = first; a <= last; a++) {
    cb_eps_result r;
    double t0 = seconds_now();
    if (cb_epsilon(&h, (cb_accountant)a, o.delta, &r)) {
      cb_history_free(&h);
      return -1;
    }
    double secs = seconds_now() - t0;
    if (o.json) {
      print_json(&o, sigma, &r, secs);
      continue;
    }
    char eb[32], tb[32] = "";
    if (o.time) snprintf(tb, sizeof tb, "%8.3f ms ", secs * 1e3);
    printf("%-10s  %-12s  %s", cb_accountant_name(r.requested), cb_privacy_fmt(r.epsilon, eb, 32),
           tb);
    if (r.accountant == CB_ACC_RDP && isfinite(r.alpha))
      printf("%s; order alpha = %g", r.note, r.alpha);
    else if (r.accountant == CB_ACC_GDP)
      printf("APPROXIMATION (GDP/CLT): can underestimate, not a guarantee");
    else
      printf("%s", r.note);
    if (isinf(r.epsilon)) printf(" (no privacy)");
    printf("\n");
  }
  cb_history_free(&h);
  return 0;
}
