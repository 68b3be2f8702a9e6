/* clipbench report --study: writes DIR/README.md (the reproduction report)
 * and DIR/figures from one or more results databases and the study's
 * published numbers. Every number comes from the databases or the published
 * TSV, every verdict from the rules in study_verdicts.c. */
#include "results/study_report.h"

#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/paths.h"
#include "core/base/version.h"
#include "results/datadir.h"
#include "results/study_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXV 256
#define MAX_OBS 16

static const char *const ARCHS[] = {"unet", "nested_unet"};
static const char *const METHODS[] = {"nonprivate", "automatic", "random_sparsification", "flat",
                                      "per_layer"};
#define N_METHODS 5
static const char *const PROC_NAME[] = {"as published", "corrected", "mixed"};

/* A cell of ours: mean and 95% half-width of a metric, as text. */
static void fmt_stat(const st_runs *r, int proc, const char *arch, const char *method, double sigma,
                     double lr, st_metric m, int digits, char *buf, size_t n, int *count) {
  double v[MAXV], mean, half;
  int k = st_values(r, proc, arch, method, sigma, lr, m, v, MAXV);
  if (count) *count = k;
  st_mean_ci(v, k, &mean, &half);
  if (!k)
    snprintf(buf, n, "-");
  else if (isnan(half) || m == M_EPSILON || m == M_EPS_PRV) /* a function of the config */
    snprintf(buf, n, "%.*f", digits, mean);
  else
    snprintf(buf, n, "%.*f ± %.*f", digits, mean, digits, half);
}

static void fmt_num(double v, int digits, char *buf, size_t n) {
  if (isnan(v))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%.*f", digits, v);
}

static void fmt_sigma(double s, char *buf, size_t n) {
  if (isnan(s))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%g", s);
}

/* What our runs were trained at, per procedure and architecture: the study
 * trained at 224x224 px, width 32, depth 4, batch 10, 100 epochs; a smaller
 * scale changes loss and Dice (not epsilon, a function of q, steps, sigma
 * and delta), so every table is read against this. */
static void scales(FILE *md, const st_runs *ours) {
  fputs("What our runs were trained at (the study: 224x224 px, width 32, depth 4, batch 10, 100 "
        "epochs):\n\n| procedure | architecture | runs | seeds | scale |\n| --- | --- | --- | --- "
        "| --- |\n",
        md);
  for (int p = 0; p < 2; p++)
    for (int a = 0; a < 2; a++) {
      int n = 0, seeds[64], ns = 0;
      const char *scale = NULL;
      for (int i = 0; i < ours->n; i++) {
        const st_run *x = &ours->v[i];
        if (x->proc != p || strcmp(x->arch, ARCHS[a]) != 0) continue;
        n++;
        scale = x->scale;
        int seen = 0;
        for (int k = 0; k < ns && !seen; k++)
          seen = seeds[k] == x->seed;
        if (!seen && ns < 64) seeds[ns++] = x->seed;
      }
      if (!n) continue;
      for (int i = 1; i < ns; i++)
        for (int k = i; k > 0 && seeds[k] < seeds[k - 1]; k--) {
          int t = seeds[k];
          seeds[k] = seeds[k - 1];
          seeds[k - 1] = t;
        }
      fprintf(md, "| %s | %s | %d | ", PROC_NAME[p], ARCHS[a], n);
      for (int k = 0; k < ns; k++)
        fprintf(md, "%s%d", k ? ", " : "", seeds[k]);
      fprintf(md, " | %s |\n", scale);
    }
  fputs("\n", md);
}

/* The longest of our as-published runs of one architecture (the curve
 * figure's x range: a shorter run of ours is compared where it stopped). */
static int max_epochs(const st_runs *ours, const char *arch) {
  int e = 0;
  for (int i = 0; i < ours->n; i++)
    if (ours->v[i].proc == ST_PUBLISHED_PROC && strcmp(ours->v[i].arch, arch) == 0 &&
        ours->v[i].epochs > e)
      e = ours->v[i].epochs;
  return e;
}

/* The fewest epochs among our as-published runs of a cell at the study's lr
 * (INT_MAX when none): their final epsilon is the study's only at its 100. */
static int cell_epochs(const st_runs *ours, const char *arch, const char *method, double s) {
  int e = INT_MAX;
  for (int i = 0; i < ours->n; i++) {
    const st_run *x = &ours->v[i];
    if (x->proc != ST_PUBLISHED_PROC || strcmp(x->arch, arch) != 0 ||
        strcmp(x->method, method) != 0 || fabs(x->lr - ST_STUDY_LR) > 1e-12)
      continue;
    if (!(isnan(s) ? isnan(x->sigma) : fabs(x->sigma - s) < 1e-9)) continue;
    if (x->epochs > 0 && x->epochs < e) e = x->epochs; /* 0: not stored with the run */
  }
  return e;
}

/* The cells (arch, method, sigma) of the study's methods present anywhere. */
typedef struct {
  const char *arch, *method;
  double sigma;
} cellkey;

static int has_cell(const st_runs *r, int proc, const char *arch, const char *method, double s) {
  double v[1];
  return st_values(r, proc, arch, method, s, NAN, M_VAL_DICE, v, 1) > 0 ||
         st_values(r, proc, arch, method, s, NAN, M_EPSILON, v, 1) > 0;
}

/* Sorted distinct sigmas of the private runs (and the study's rows). */
static int sigmas_of(const st_runs *study, const st_runs *ours, double *out, int max) {
  int n = 0;
  for (int pass = 0; pass < 2; pass++) {
    const st_runs *r = pass ? ours : study;
    for (int i = 0; i < r->n; i++) {
      double s = r->v[i].sigma;
      int seen = isnan(s);
      for (int k = 0; k < n && !seen; k++)
        seen = fabs(out[k] - s) < 1e-9;
      if (!seen && n < max) out[n++] = s;
    }
  }
  for (int i = 1; i < n; i++)
    for (int k = i; k > 0 && out[k] < out[k - 1]; k--) {
      double t = out[k];
      out[k] = out[k - 1];
      out[k - 1] = t;
    }
  return n;
}

static void published_table(FILE *md, const st_runs *study, const st_runs *ours, const double *sig,
                            int ns) {
  fputs("| architecture | method | sigma | study val loss | study Dice | study accuracy | study "
        "epsilon | ours as published: runs | Dice | accuracy | epsilon | PRV epsilon = the study's "
        "| ours corrected: runs | lr | Dice | test Dice | epsilon |\n",
        md);
  fputs("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- | --- |\n",
        md);
  for (int a = 0; a < 2; a++)
    for (int m = 0; m < 3; m++)
      for (int k = -1; k < ns; k++) {
        if ((m == 0) != (k < 0)) continue;
        const char *arch = ARCHS[a], *method = METHODS[m];
        double s = k < 0 ? NAN : sig[k];
        if (!has_cell(study, -1, arch, method, s) && !has_cell(ours, 0, arch, method, s) &&
            !has_cell(ours, 1, arch, method, s))
          continue;
        double pub[4] = {NAN, NAN, NAN, NAN}, v[1];
        if (st_values(study, -1, arch, method, s, NAN, M_VAL_LOSS, v, 1)) pub[0] = v[0];
        if (st_values(study, -1, arch, method, s, NAN, M_VAL_DICE, v, 1)) pub[1] = v[0];
        if (st_values(study, -1, arch, method, s, NAN, M_VAL_ACC, v, 1)) pub[2] = v[0];
        if (st_values(study, -1, arch, method, s, NAN, M_EPSILON, v, 1)) pub[3] = v[0];
        char c[16][64];
        fmt_sigma(s, c[0], sizeof c[0]);
        fmt_num(pub[0], 4, c[1], sizeof c[1]);
        fmt_num(pub[1], 4, c[2], sizeof c[2]);
        fmt_num(pub[2], 4, c[3], sizeof c[3]);
        fmt_num(pub[3], 2, c[4], sizeof c[4]);
        /* Ours as published: at the study's lr. */
        int n_pub = 0, n_cor = 0;
        fmt_stat(ours, 0, arch, method, s, ST_STUDY_LR, M_VAL_DICE, 4, c[5], sizeof c[5], &n_pub);
        fmt_stat(ours, 0, arch, method, s, ST_STUDY_LR, M_VAL_ACC, 4, c[6], sizeof c[6], NULL);
        fmt_stat(ours, 0, arch, method, s, ST_STUDY_LR, M_EPSILON, 2, c[7], sizeof c[7], NULL);
        /* Epsilon is deterministic: as published, the PRV accountant's (the
         * study's PrivacyEngine() in Opacus 1.4.1 defaults to its PRV
         * accountant) must equal the study's to the precision of
         * its CSV (relative 1e-3). */
        double e[MAXV];
        int ne = st_values(ours, 0, arch, method, s, ST_STUDY_LR, M_EPS_PRV, e, MAXV);
        int short_run = cell_epochs(ours, arch, method, s) < ST_STUDY_EPOCHS;
        if (isnan(s) || isnan(pub[3]) || !ne)
          snprintf(c[8], sizeof c[8], "-");
        else if (short_run) /* fewer steps than the study's: compared epoch by epoch below */
          snprintf(c[8], sizeof c[8], "- (%d of %d epochs; see the epoch-by-epoch table)",
                   cell_epochs(ours, arch, method, s), ST_STUDY_EPOCHS);
        else
          snprintf(c[8], sizeof c[8], "%s (%.2f, relative difference %.1e)",
                   fabs(e[0] - pub[3]) <= 1e-3 * pub[3] ? "yes" : "**no**", e[0],
                   fabs(e[0] - pub[3]) / pub[3]);
        /* Ours corrected: at the lr selected on validation. */
        double lr = st_best_lr(ours, 1, arch, method, s);
        fmt_stat(ours, 1, arch, method, s, lr, M_VAL_DICE, 4, c[9], sizeof c[9], &n_cor);
        fmt_stat(ours, 1, arch, method, s, lr, M_TEST_DICE, 4, c[10], sizeof c[10], NULL);
        fmt_stat(ours, 1, arch, method, s, lr, M_EPSILON, 2, c[11], sizeof c[11], NULL);
        char lrs[32];
        if (isnan(lr))
          snprintf(lrs, sizeof lrs, "-");
        else
          snprintf(lrs, sizeof lrs, "%g", lr);
        fprintf(md,
                "| %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %d | %s | %s | %s "
                "| %s |\n",
                arch, method, c[0], c[1], c[2], c[3], c[4], n_pub, c[5], c[6], c[7], c[8], n_cor,
                lrs, c[9], c[10], c[11]);
      }
}

/* Mean per-class validation Dice of each cell (at the lr the pivot uses). */
static void class_table(FILE *md, const st_runs *ours, const double *sig, int ns) {
  int nc = 0;
  for (int i = 0; i < ours->n; i++)
    if (ours->v[i].n_classes > nc) nc = ours->v[i].n_classes;
  if (!nc) {
    fputs("No per-class Dice stored (epoch_classes is empty for the final evaluated epochs).\n\n",
          md);
    return;
  }
  fputs("| procedure | architecture | method | sigma | lr | runs |", md);
  for (int c = 0; c < nc; c++)
    fprintf(md, " class %d |", c);
  fputs("\n|", md);
  for (int c = 0; c < nc + 6; c++)
    fputs(" --- |", md);
  fputs("\n", md);
  for (int p = 0; p < 2; p++)
    for (int a = 0; a < 2; a++)
      for (int m = 0; m < N_METHODS; m++)
        for (int k = -1; k < ns; k++) {
          if ((m == 0) != (k < 0)) continue;
          double s = k < 0 ? NAN : sig[k];
          double lr = p == 0 ? ST_STUDY_LR : st_best_lr(ours, p, ARCHS[a], METHODS[m], s);
          double sum[ST_CLASSES_MAX] = {0};
          int cnt[ST_CLASSES_MAX] = {0}, runs = 0;
          for (int i = 0; i < ours->n; i++) {
            const st_run *x = &ours->v[i];
            int same_s = (isnan(s) && isnan(x->sigma)) || fabs(s - x->sigma) < 1e-9;
            if (x->proc != p || strcmp(x->arch, ARCHS[a]) || strcmp(x->method, METHODS[m]) ||
                !same_s || isnan(lr) || isnan(x->lr) || fabs(x->lr - lr) > 1e-9 * lr)
              continue;
            runs++;
            for (int c = 0; c < x->n_classes; c++)
              if (!isnan(x->cls[c])) {
                sum[c] += x->cls[c];
                cnt[c]++;
              }
          }
          if (!runs) continue;
          char ss[32];
          fmt_sigma(s, ss, sizeof ss);
          fprintf(md, "| %s | %s | %s | %s | %g | %d |", PROC_NAME[p], ARCHS[a], METHODS[m], ss, lr,
                  runs);
          for (int c = 0; c < nc; c++)
            if (cnt[c])
              fprintf(md, " %.4f |", sum[c] / cnt[c]);
            else
              fputs(" - |", md);
          fputs("\n", md);
        }
  fputs("\n", md);
}

/* Method x sigma, validation Dice: mean ± 95% CI half-width over seeds
 * (blank at one seed), the run count and the lr. */
static void pivot(FILE *md, FILE *data, const st_runs *ours, int p, const double *sig, int ns) {
  for (int a = 0; a < 2; a++) {
    int any = 0;
    for (int m = 0; m < N_METHODS; m++)
      for (int k = -1; k < ns; k++)
        any |= has_cell(ours, p, ARCHS[a], METHODS[m], k < 0 ? NAN : sig[k]);
    if (!any) continue;
    fprintf(md, "**%s, %s** (validation Dice, mean ± 95%% CI over seeds; n = runs)\n\n", ARCHS[a],
            PROC_NAME[p]);
    fputs("| method | non-private |", md);
    for (int k = 0; k < ns; k++)
      fprintf(md, " sigma %g |", sig[k]);
    fputs("\n| --- | --- |", md);
    for (int k = 0; k < ns; k++)
      fputs(" --- |", md);
    fputs("\n", md);
    for (int m = 0; m < N_METHODS; m++) {
      int row = 0;
      for (int k = -1; k < ns; k++)
        row |= has_cell(ours, p, ARCHS[a], METHODS[m], k < 0 ? NAN : sig[k]);
      if (!row) continue;
      fprintf(md, "| %s |", METHODS[m]);
      for (int k = -1; k < ns; k++) {
        double s = k < 0 ? NAN : sig[k];
        if ((m == 0) != (k < 0) || !has_cell(ours, p, ARCHS[a], METHODS[m], s)) {
          fputs(" |", md);
          continue;
        }
        double lr = p == 0 ? ST_STUDY_LR : st_best_lr(ours, p, ARCHS[a], METHODS[m], s);
        double v[MAXV], mean, half;
        int n = st_values(ours, p, ARCHS[a], METHODS[m], s, lr, M_VAL_DICE, v, MAXV);
        st_mean_ci(v, n, &mean, &half);
        if (!n) {
          fputs(" - |", md);
          continue;
        }
        if (isnan(half))
          fprintf(md, " %.4f (n %d, lr %g) |", mean, n, lr);
        else
          fprintf(md, " %.4f ± %.4f (n %d, lr %g) |", mean, half, n, lr);
        fprintf(data, "%s\t%s\t%s\t%g\t%.6g\t%.6g\t%d\n", PROC_NAME[p], ARCHS[a], METHODS[m],
                isnan(s) ? 0.0 : s, mean, isnan(half) ? 0.0 : half, n);
      }
      fputs("\n", md);
    }
    fputs("\n", md);
  }
}

/* gnuplot plots/NAME for one architecture and format; vars: more -e text. */
static int plot(const char *plots_dir, const char *name, const char *vars, const char *arch,
                const char *out, const char *fmt) {
  char script[PATH_MAX + 32], expr[4 * PATH_MAX];
  snprintf(script, sizeof script, "%s/plots/%s", plots_dir, name);
  if (access(script, R_OK) != 0)
    return cb_error("%s not found; pass --plots DIR (the clipbench source folder)", script);
  snprintf(expr, sizeof expr, "%s; ARCH='%s'; OUTFILE='%s'; FMT='%s'; PLOTS='%s/plots'", vars, arch,
           out, fmt, plots_dir);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return cb_error("cannot start gnuplot: %s", strerror(errno));
  if (pid == 0) {
    execlp("gnuplot", "gnuplot", "-e", expr, script, (char *)NULL);
    fprintf(stderr, "clipbench report: cannot run gnuplot: %s\n", strerror(errno));
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0) return cb_error("waiting for gnuplot failed");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return cb_error("gnuplot failed on %s (see its message above; install gnuplot or pass "
                    "--no-figures)",
                    script);
  return 0;
}

int cb_study_report(int argc, char **argv) {
  cb_cli c;
  cb_strlist dbs = {0};
  const char *out = NULL, *published = NULL, *plots = NULL;
  int study = 0, json = 0, no_figures = 0;
  cb_cli_init(&c, "clipbench report --study", "--db DB [--db DB] --out DIR [options]",
              "The seed study's reproduction report: DIR/README.md with the study's published\n"
              "final numbers beside ours as published and ours corrected, per-class Dice, a\n"
              "method x sigma pivot over seeds and a verdict per observation of the study\n"
              "computed from the data; figures in DIR/figures. A run is 'as published' when it\n"
              "uses every as-published switch that applies to it, 'corrected' when none.");
  cb_cli_add(&c, "study", CB_OPT_FLAG, &study, NULL, "the study's reproduction report");
  cb_cli_add(&c, "db", CB_OPT_STRLIST, &dbs, "DB",
             "results database; repeat for several (e.g. the as-published and corrected sweeps)");
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "DIR", "output folder (created)");
  cb_cli_add(&c, "published", CB_OPT_STR, &published, "FILE",
             "the study's published numbers (default: docs/reproduction/published.tsv in the "
             "data folder)");
  cb_cli_add(&c, "plots", CB_OPT_STR, &plots, "DIR",
             "folder holding plots/study.gp (default: the installed share/clipbench, "
             "$CLIPBENCH_DATA_DIR, or the source tree)");
  cb_cli_add(&c, "no-figures", CB_OPT_FLAG, &no_figures, NULL, "tables only (no gnuplot)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON summary (verdicts) on stdout");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out DIR is required");
  if (dbs.n == 0) dbs.v[dbs.n++] = CB_DEFAULT_DB;
  /* Installed or in the source tree: the facts and scripts ship together. */
  char data_dir[PATH_MAX], facts[PATH_MAX + 64];
  if ((!plots || !published) && cb_data_dir(data_dir, sizeof data_dir)) return -1;
  if (!plots) plots = data_dir;
  if (!published) {
    snprintf(facts, sizeof facts, "%s/docs/reproduction/published.tsv", data_dir);
    published = facts;
  }

  st_runs pub = {0}, ours = {0};
  char source[1024];
  rc = st_load_published(published, &pub, source, sizeof source);
  for (int i = 0; !rc && i < dbs.n; i++)
    rc = st_load_runs(dbs.v[i], &ours);
  if (!rc && ours.n == 0)
    rc = cb_error("%s: no finished runs to report (clipbench status --db %s)", dbs.v[0], dbs.v[0]);
  if (!rc) rc = st_check_one_configuration(&ours);
  char figdir[PATH_MAX], path[PATH_MAX + 64], data[PATH_MAX + 64];
  snprintf(figdir, sizeof figdir, "%s/figures", out);
  if (!rc) rc = cb_mkdir_p(figdir);
  FILE *md = NULL, *dat = NULL;
  if (!rc) {
    snprintf(path, sizeof path, "%s/README.md", out);
    snprintf(data, sizeof data, "%s/study_dice_sigma.tsv", figdir);
    md = fopen(path, "w");
    dat = fopen(data, "w");
    if (!md || !dat) rc = cb_error("cannot write %s: %s", md ? data : path, strerror(errno));
  }
  st_observation obs[MAX_OBS];
  int n_obs = 0, n_proc[ST_N_PROC] = {0};
  if (!rc) {
    for (int i = 0; i < ours.n; i++)
      n_proc[ours.v[i].proc]++;
    double sig[32];
    int ns = sigmas_of(&pub, &ours, sig, 32);
    n_obs = st_observations(&pub, &ours, obs, MAX_OBS);
    fprintf(md,
            "# Reproducing the seed study\n\nGenerated by `clipbench report --study` "
            "(clipbench %s) from ",
            cb_version_string());
    for (int i = 0; i < dbs.n; i++)
      fprintf(md, "%s`%s`", i ? ", " : "", dbs.v[i]);
    fprintf(md, " and `%s`. Do not edit: rerun the command.\n\n", published);
    fprintf(md, "The study's numbers: %s\n\n", source);
    fprintf(md,
            "Finished runs: %d as published, %d corrected, %d mixed (some as-published switches, "
            "not all; left out of every table). A run is *as published* when every switch that "
            "applies to it has the study's value: `train.sampling: shuffle`, `loss.reduction: "
            "batch`, `data.normalise: fixed`, `data.mask_resize: bilinear_round`, `metrics.dice: "
            "per_image`, and for private runs `dp.sample_rate: opacus`, for random "
            "sparsification `dp.sparsification.as_published: true`; *corrected* when none has. "
            "Dice, accuracy and loss are the final evaluated epoch's validation columns; "
            "epsilon is the last epoch's (the run's primary accountant; the check against the "
            "study's uses our PRV epsilon: the study's `PrivacyEngine()`, Opacus 1.4.1, defaults "
            "to its PRV accountant); ± is the 95%% Student t "
            "half-width over seeds (blank "
            "with one seed). As published is read at the study's lr %g; corrected at the lr "
            "with the highest mean validation Dice per cell (test Dice: the test split with the "
            "final weights of those runs).\n\n",
            n_proc[0], n_proc[1], n_proc[2], ST_STUDY_LR);
    scales(md, &ours);
    fputs("## The study's observations, decided by the data\n\n", md);
    fputs("| observation | where the study says it | rule | on the study's own numbers | ours "
          "as published | ours corrected |\n| --- | --- | --- | --- | --- | --- |\n",
          md);
    for (int i = 0; i < n_obs; i++)
      fprintf(md, "| %s | %s | %s | **%s** | **%s** | **%s** |\n", obs[i].claim, obs[i].where,
              obs[i].rule, st_verdict_name(obs[i].v[0]), st_verdict_name(obs[i].v[1]),
              st_verdict_name(obs[i].v[2]));
    fputs("\nEvidence (difference of means with its 95% interval, or the deciding "
          "comparison):\n\n",
          md);
    for (int i = 0; i < n_obs; i++)
      fprintf(md, "- `%s`: study: %s; as published: %s; corrected: %s\n", obs[i].id,
              obs[i].evidence[0], obs[i].evidence[1], obs[i].evidence[2]);
    fputs("\n## Published final numbers, ours as published and ours corrected\n\n", md);
    published_table(md, &pub, &ours, sig, ns);
    fputs("\n## Method x sigma\n\n", md);
    fputs("proc\tarch\tmethod\tsigma\tdice\thalf\tn\n", dat);
    pivot(md, dat, &ours, 0, sig, ns);
    pivot(md, dat, &ours, 1, sig, ns);
    fputs("## Per-class validation Dice\n\n", md);
    class_table(md, &ours, sig, ns);
    rc = st_provenance(md, dbs.v, dbs.n);
  }
  if (dat && fclose(dat) != 0 && !rc) rc = cb_error("writing %s failed (disk full?)", data);
  /* Learning curves: ours as published against the study's, where we ran
   * the study's arm (part 2 of the reproduction compares their shape); the
   * table reads both at our last epoch, the figure shows every epoch. */
  char curves_tsv[PATH_MAX];
  snprintf(curves_tsv, sizeof curves_tsv, "%s", published);
  char *slash = strrchr(curves_tsv, '/');
  snprintf(slash ? slash + 1 : curves_tsv,
           sizeof curves_tsv - (size_t)(slash ? slash + 1 - curves_tsv : 0),
           "published_curves.tsv");
  int n_mine[2] = {0, 0}, n_theirs[2] = {0, 0};
  char cdata[2][PATH_MAX + 64];
  if (!rc) {
    fputs("## Ours as published against the study's curves, epoch by epoch\n\n"
          "Each arm we ran as published (at the study's lr), read at our last evaluated epoch E "
          "beside the study's published curve at the same epoch (`published_curves.tsv`; the "
          "study's list position is its epoch; where its validation list is shorter, E is its "
          "last entry). Ours: mean over seeds [min, max]; a single "
          "seed shows its difference from the study's value. Epsilon: our PRV accountant "
          "against the study's (Opacus' PRV) at epoch E.\n\n"
          "| architecture | method | sigma | epoch E | seeds | ours val Dice | study val Dice | "
          "ours val loss | study val loss | ours PRV epsilon | study epsilon |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
          md);
    for (int a = 0; !rc && a < 2; a++) {
      snprintf(cdata[a], sizeof cdata[a], "%s/study_curves_%s.tsv", figdir, ARCHS[a]);
      rc = st_write_curves(dbs.v, dbs.n, &ours, curves_tsv, ARCHS[a], cdata[a], md, &n_mine[a],
                           &n_theirs[a]);
    }
    fputs("\n", md);
  }
  int n_figs = 0;
  if (!rc && !no_figures) {
    fputs("## Figures\n\n", md);
    for (int a = 0; !rc && a < 2; a++)
      for (int f = 0; !rc && f < 2; f++) {
        const char *fmt = f ? "pdf" : "png";
        char fig[PATH_MAX + 96];
        snprintf(fig, sizeof fig, "%s/study_dice_sigma_%s.%s", figdir, ARCHS[a], fmt);
        char vars[3 * PATH_MAX];
        snprintf(vars, sizeof vars, "DATA='%s'; STUDY='%s'", data, published);
        rc = plot(plots, "study.gp", vars, ARCHS[a], fig, fmt);
        if (!rc && !f) {
          fprintf(md,
                  "![%s](figures/study_dice_sigma_%s.png)\n\n%s: validation Dice against sigma; "
                  "the study's published runs (points), ours as published and ours corrected "
                  "(mean ± 95%% CI over seeds; non-private at sigma 0) ([PDF](figures/"
                  "study_dice_sigma_%s.pdf))\n\n",
                  ARCHS[a], ARCHS[a], ARCHS[a], ARCHS[a]);
          n_figs++;
        }
      }
  }
  for (int a = 0; !rc && !no_figures && a < 2; a++) {
    for (int f = 0; !rc && n_mine[a] && f < 2; f++) {
      const char *fmt = f ? "pdf" : "png";
      char fig[PATH_MAX + 96], vars[2 * PATH_MAX];
      snprintf(fig, sizeof fig, "%s/study_curves_%s.%s", figdir, ARCHS[a], fmt);
      snprintf(vars, sizeof vars, "DATA='%s'; N_OURS=%d; N_STUDY=%d; XMAX=%d", cdata[a], n_mine[a],
               n_theirs[a], max_epochs(&ours, ARCHS[a]));
      rc = plot(plots, "study_curves.gp", vars, ARCHS[a], fig, fmt);
      if (!rc && !f) {
        fprintf(
            md,
            "![%s curves](figures/study_curves_%s.png)\n\n%s: validation Dice per epoch, "
            "ours as published (solid: mean over seeds, grey band: min-max) against the study's "
            "published curve of the same arm (dashed; its non-private CSVs hold fewer "
            "validation entries than epochs), over our %d epochs ([PDF](figures/"
            "study_curves_%s.pdf))\n\n",
            ARCHS[a], ARCHS[a], ARCHS[a], max_epochs(&ours, ARCHS[a]), ARCHS[a]);
        n_figs++;
      }
    }
  }
  if (md) {
    int bad = ferror(md) != 0;
    bad |= fclose(md) != 0;
    if (!rc && bad) rc = cb_error("writing %s failed (disk full?)", path);
  }
  if (!rc) {
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "report", path);
      cb_json_kv_int(&j, "figures", n_figs);
      cb_json_kv_int(&j, "published_arms", pub.n);
      cb_json_kv_int(&j, "runs_as_published", n_proc[0]);
      cb_json_kv_int(&j, "runs_corrected", n_proc[1]);
      cb_json_kv_int(&j, "runs_mixed", n_proc[2]);
      cb_json_key(&j, "verdicts");
      cb_json_obj_begin(&j);
      for (int i = 0; i < n_obs; i++) {
        cb_json_key(&j, obs[i].id);
        cb_json_obj_begin(&j);
        cb_json_kv_str(&j, "study", st_verdict_name(obs[i].v[0]));
        cb_json_kv_str(&j, "as_published", st_verdict_name(obs[i].v[1]));
        cb_json_kv_str(&j, "corrected", st_verdict_name(obs[i].v[2]));
        cb_json_obj_end(&j);
      }
      cb_json_obj_end(&j);
      cb_json_obj_end(&j);
      printf("\n");
    } else {
      printf("report: %s (%d observations, %d figures; %d runs as published, %d corrected)\n", path,
             n_obs, n_figs, n_proc[0], n_proc[1]);
    }
  }
  st_runs_free(&pub);
  st_runs_free(&ours);
  return rc ? -1 : 0;
}
