/* The study's observations (its README "Results" and "Conclusion") and the
 * rule that decides each one from data. Every verdict comes from these
 * rules; none is written by hand. The same rule runs on three sources: the
 * study's own published numbers (one run per arm), our runs as published and
 * our corrected runs. */
#include "results/study_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAXV 256

static const char *const ARCHS[] = {"unet", "nested_unet"};
static const char *const PRIVATE[] = {"automatic", "random_sparsification"};
static const double SIGMAS[] = {0.3, 0.5, 0.7, 1.0}; /* the study's grid */
#define N_SIGMAS 4

const char *st_verdict_name(st_verdict v) {
  switch (v) {
  case V_HOLDS: return "holds";
  case V_NOT: return "does not hold";
  case V_LR: return "lr artefact";
  case V_NEED: return "not enough runs";
  }
  return "?";
}

static int proc_of(int src) {
  return src == SRC_STUDY ? -1 : src == SRC_AS_PUBLISHED ? 0 : 1;
}

/* The learning rate a cell is compared at: the study's lr when the cell has
 * runs there (like with like), else the one selected on validation. */
static double cell_lr(const st_runs *r, int proc, const char *arch, const char *method,
                      double sigma) {
  double v[1];
  if (st_values(r, proc, arch, method, sigma, ST_STUDY_LR, M_VAL_DICE, v, 1)) return ST_STUDY_LR;
  return st_best_lr(r, proc, arch, method, sigma);
}

/* A running AND of comparisons with the evidence of the deciding one. */
typedef struct {
  int n, n_not, n_need;
  char first[160], first_not[160], first_need[160];
} conj;

static void conj_add(conj *c, st_verdict v, const char *ev) {
  c->n++;
  if (c->n == 1) snprintf(c->first, sizeof c->first, "%s", ev);
  if (v == V_NOT && !c->n_not++) snprintf(c->first_not, sizeof c->first_not, "%s", ev);
  if (v == V_NEED && !c->n_need++) snprintf(c->first_need, sizeof c->first_need, "%s", ev);
}

/* Any comparison against the claim decides "does not hold"; otherwise one
 * without enough runs leaves it open; otherwise every comparison held. */
static st_verdict conj_end(const conj *c, char *ev, size_t n) {
  if (c->n == 0) {
    snprintf(ev, n, "no cell has runs on both sides");
    return V_NEED;
  }
  if (c->n_not) {
    snprintf(ev, n, "%s (%d of %d comparisons against)", c->first_not, c->n_not, c->n);
    return V_NOT;
  }
  if (c->n_need) {
    snprintf(ev, n, "%s (%d of %d comparisons lack runs)", c->first_need, c->n_need, c->n);
    return V_NEED;
  }
  snprintf(ev, n, "%s (all %d comparisons)", c->first, c->n);
  return V_HOLDS;
}

/* Rule of every two-group comparison: the claim "mean(a) is above mean(b)"
 * (dir +1; below: dir -1) holds when the Welch 95% confidence interval of
 * mean(a) - mean(b) lies entirely on the claimed side of zero, and does not
 * hold otherwise (the other side, or no difference the seeds can resolve).
 * It needs two runs on each side; with fewer the verdict is "not enough
 * runs", except where point_ok: the study's own numbers (one run per arm, as
 * it published them) and deterministic quantities (epsilon), where the
 * point difference decides. */
static st_verdict compare(const double *a, int na, const double *b, int nb, int dir, int point_ok,
                          const char *label, char *ev, size_t n) {
  double ma, ha, mb, hb;
  st_mean_ci(a, na, &ma, &ha);
  st_mean_ci(b, nb, &mb, &hb);
  if (na == 0 || nb == 0) {
    snprintf(ev, n, "%s: no runs on one side", label);
    return V_NEED;
  }
  double d = ma - mb;
  if (na < 2 || nb < 2) {
    snprintf(ev, n, "%s: %+.4g (n = %d, %d; no interval)", label, d, na, nb);
    if (!point_ok) return V_NEED;
    return d * dir > 0 ? V_HOLDS : V_NOT;
  }
  double va = 0, vb = 0;
  for (int i = 0; i < na; i++)
    va += (a[i] - ma) * (a[i] - ma);
  for (int i = 0; i < nb; i++)
    vb += (b[i] - mb) * (b[i] - mb);
  va /= (na - 1) * (double)na;
  vb /= (nb - 1) * (double)nb;
  double se = sqrt(va + vb);
  double df =
      se > 0 ? (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1) + 1e-300) : 1e9;
  double h = se > 0 ? st_t95(df) * se : 0;
  snprintf(ev, n, "%s: %+.4g [%+.4g, %+.4g] (n = %d, %d)", label, d, d - h, d + h, na, nb);
  return (dir > 0 ? d - h > 0 : d + h < 0) ? V_HOLDS : V_NOT;
}

/* One comparison of two cells added to a conjunction. */
static void cmp_cells(conj *c, const st_runs *r, int src, st_metric m, int dir, const char *a_arch,
                      const char *a_method, double a_sigma, double a_lr, const char *b_arch,
                      const char *b_method, double b_sigma, double b_lr, const char *label) {
  double a[MAXV], b[MAXV];
  int p = proc_of(src);
  int na = st_values(r, p, a_arch, a_method, a_sigma, a_lr, m, a, MAXV);
  int nb = st_values(r, p, b_arch, b_method, b_sigma, b_lr, m, b, MAXV);
  if (na == 0 && nb == 0) return; /* neither cell exists: not a comparison */
  char ev[200];
  int point_ok = src == SRC_STUDY || m == M_EPSILON || m == M_EPS_PRV;
  conj_add(c, compare(a, na, b, nb, dir, point_ok, label, ev, sizeof ev), ev);
}

static const st_runs *source(int src, const st_runs *study, const st_runs *ours) {
  return src == SRC_STUDY ? study : ours;
}

/* Automatic Clipping at its best noise multiplier (the highest mean
 * validation Dice, "given the correct combination of noise multiplier") at
 * learning rate lr_ac against non-private training at lr_np: higher
 * validation Dice and higher validation accuracy. */
static st_verdict ac_vs_np(const st_runs *r, int src, const char *arch, int tuned, char *ev,
                           size_t n) {
  int p = proc_of(src);
  double best_sigma = NAN, best = -INFINITY, best_lr = NAN;
  for (int k = 0; k < N_SIGMAS; k++) {
    double lr = tuned ? st_best_lr(r, p, arch, "automatic", SIGMAS[k])
                      : cell_lr(r, p, arch, "automatic", SIGMAS[k]);
    double v[MAXV], mean, half;
    int nv = st_values(r, p, arch, "automatic", SIGMAS[k], lr, M_VAL_DICE, v, MAXV);
    st_mean_ci(v, nv, &mean, &half);
    if (nv && mean > best) {
      best = mean;
      best_sigma = SIGMAS[k];
      best_lr = lr;
    }
  }
  double np_lr =
      tuned ? st_best_lr(r, p, arch, "nonprivate", NAN) : cell_lr(r, p, arch, "nonprivate", NAN);
  conj c = {0};
  if (!isnan(best_sigma)) {
    char l1[96], l2[96];
    snprintf(l1, sizeof l1, "Dice AC sigma %g lr %g - non-private lr %g", best_sigma, best_lr,
             np_lr);
    snprintf(l2, sizeof l2, "accuracy AC sigma %g - non-private", best_sigma);
    cmp_cells(&c, r, src, M_VAL_DICE, +1, arch, "automatic", best_sigma, best_lr, arch,
              "nonprivate", NAN, np_lr, l1);
    cmp_cells(&c, r, src, M_VAL_ACC, +1, arch, "automatic", best_sigma, best_lr, arch, "nonprivate",
              NAN, np_lr, l2);
  }
  return conj_end(&c, ev, n);
}

/* "AC beats non-private": the rule above at the study's learning rate. Where
 * the source has a learning-rate axis for non-private training and for AC
 * (at one sigma or more), it is decided again
 * with each arm at its own best learning rate (selected on validation Dice);
 * holding only at the study's untuned lr is an "lr artefact". */
static void obs_ac_beats_np(st_observation *o, const st_runs *study, const st_runs *ours,
                            const char *arch) {
  for (int src = 0; src < ST_N_SRC; src++) {
    const st_runs *r = source(src, study, ours);
    int p = proc_of(src);
    o->v[src] = ac_vs_np(r, src, arch, 0, o->evidence[src], sizeof o->evidence[src]);
    int ac_axis = 0;
    for (int k = 0; k < N_SIGMAS; k++)
      ac_axis |= st_has_lr_axis(r, p, arch, "automatic", SIGMAS[k]);
    int axis = ac_axis && st_has_lr_axis(r, p, arch, "nonprivate", NAN);
    if (o->v[src] != V_HOLDS || !axis) continue;
    char ev[256];
    st_verdict tuned = ac_vs_np(r, src, arch, 1, ev, sizeof ev);
    if (tuned != V_HOLDS) {
      o->v[src] = V_LR;
      snprintf(o->evidence[src], sizeof o->evidence[src], "at tuned lr: %s", ev);
    }
  }
}

/* "RS results in the highest training loss": at every noise multiplier with
 * RS runs, RS's final training loss is above Automatic Clipping's at the same
 * sigma and above non-private training's. */
static void obs_rs_highest_loss(st_observation *o, const st_runs *study, const st_runs *ours,
                                const char *arch) {
  for (int src = 0; src < ST_N_SRC; src++) {
    const st_runs *r = source(src, study, ours);
    int p = proc_of(src);
    conj c = {0};
    for (int k = 0; k < N_SIGMAS; k++) {
      double s = SIGMAS[k], lr = cell_lr(r, p, arch, "random_sparsification", s);
      double probe[1];
      if (!st_values(r, p, arch, "random_sparsification", s, NAN, M_TRAIN_LOSS, probe, 1)) continue;
      char l[96];
      snprintf(l, sizeof l, "sigma %g: RS - AC", s);
      cmp_cells(&c, r, src, M_TRAIN_LOSS, +1, arch, "random_sparsification", s, lr, arch,
                "automatic", s, cell_lr(r, p, arch, "automatic", s), l);
      snprintf(l, sizeof l, "sigma %g: RS - non-private", s);
      cmp_cells(&c, r, src, M_TRAIN_LOSS, +1, arch, "random_sparsification", s, lr, arch,
                "nonprivate", NAN, cell_lr(r, p, arch, "nonprivate", NAN), l);
    }
    o->v[src] = conj_end(&c, o->evidence[src], sizeof o->evidence[src]);
  }
}

/* "A higher noise multiplier leads to less privacy spent": for every
 * architecture and private method, epsilon at each sigma of the grid is below
 * epsilon at the next smaller sigma present (a deterministic quantity: one
 * run per cell decides). */
static void obs_noise_less_privacy(st_observation *o, const st_runs *study, const st_runs *ours) {
  for (int src = 0; src < ST_N_SRC; src++) {
    const st_runs *r = source(src, study, ours);
    int p = proc_of(src);
    conj c = {0};
    for (int a = 0; a < 2; a++)
      for (int m = 0; m < 2; m++) {
        double prev = NAN;
        for (int k = 0; k < N_SIGMAS; k++) {
          double v[1];
          if (!st_values(r, p, ARCHS[a], PRIVATE[m], SIGMAS[k], NAN, M_EPSILON, v, 1)) continue;
          if (!isnan(prev)) {
            char l[128];
            snprintf(l, sizeof l, "%s %s epsilon sigma %g - sigma %g", ARCHS[a], PRIVATE[m],
                     SIGMAS[k], prev);
            cmp_cells(&c, r, src, M_EPSILON, -1, ARCHS[a], PRIVATE[m], SIGMAS[k], NAN, ARCHS[a],
                      PRIVATE[m], prev, NAN, l);
          }
          prev = SIGMAS[k];
        }
      }
    o->v[src] = conj_end(&c, o->evidence[src], sizeof o->evidence[src]);
  }
}

/* "Privacy spent increases with the complexity of the network": at every
 * private method and sigma run on both architectures, Nested U-Net's epsilon
 * is above U-Net's. (Epsilon depends on q, sigma, steps and delta only, so a
 * difference can only come from a different procedure.) */
static void obs_complexity_privacy(st_observation *o, const st_runs *study, const st_runs *ours) {
  for (int src = 0; src < ST_N_SRC; src++) {
    const st_runs *r = source(src, study, ours);
    conj c = {0};
    for (int m = 0; m < 2; m++)
      for (int k = 0; k < N_SIGMAS; k++) {
        double v[1];
        int p = proc_of(src);
        if (!st_values(r, p, "unet", PRIVATE[m], SIGMAS[k], NAN, M_EPSILON, v, 1) ||
            !st_values(r, p, "nested_unet", PRIVATE[m], SIGMAS[k], NAN, M_EPSILON, v, 1))
          continue;
        char l[128];
        snprintf(l, sizeof l, "%s sigma %g epsilon nested - unet", PRIVATE[m], SIGMAS[k]);
        cmp_cells(&c, r, src, M_EPSILON, +1, "nested_unet", PRIVATE[m], SIGMAS[k], NAN, "unet",
                  PRIVATE[m], SIGMAS[k], NAN, l);
      }
    o->v[src] = conj_end(&c, o->evidence[src], sizeof o->evidence[src]);
  }
}

/* "Nested U-Net achieved higher validation accuracy": for the non-private
 * arm and every private method and sigma run on both architectures, Nested
 * U-Net's validation accuracy is above U-Net's. */
static void obs_nested_accuracy(st_observation *o, const st_runs *study, const st_runs *ours) {
  static const char *const METHODS[] = {"nonprivate", "automatic", "random_sparsification"};
  for (int src = 0; src < ST_N_SRC; src++) {
    const st_runs *r = source(src, study, ours);
    int p = proc_of(src);
    conj c = {0};
    for (int m = 0; m < 3; m++)
      for (int k = 0; k < (m ? N_SIGMAS : 1); k++) {
        double s = m ? SIGMAS[k] : NAN, v[1];
        if (!st_values(r, p, "unet", METHODS[m], s, NAN, M_VAL_ACC, v, 1) ||
            !st_values(r, p, "nested_unet", METHODS[m], s, NAN, M_VAL_ACC, v, 1))
          continue;
        char l[128];
        if (m)
          snprintf(l, sizeof l, "%s sigma %g accuracy nested - unet", METHODS[m], s);
        else
          snprintf(l, sizeof l, "nonprivate accuracy nested - unet");
        cmp_cells(&c, r, src, M_VAL_ACC, +1, "nested_unet", METHODS[m], s,
                  cell_lr(r, p, "nested_unet", METHODS[m], s), "unet", METHODS[m], s,
                  cell_lr(r, p, "unet", METHODS[m], s), l);
      }
    o->v[src] = conj_end(&c, o->evidence[src], sizeof o->evidence[src]);
  }
}

/* "Higher noise multipliers ... need careful tuning to balance performance"
 * (more noise, lower Dice): for every architecture and private method run at
 * two or more sigmas, validation Dice at the smallest sigma is above
 * validation Dice at the largest. */
static void obs_noise_lower_dice(st_observation *o, const st_runs *study, const st_runs *ours) {
  for (int src = 0; src < ST_N_SRC; src++) {
    const st_runs *r = source(src, study, ours);
    int p = proc_of(src);
    conj c = {0};
    for (int a = 0; a < 2; a++)
      for (int m = 0; m < 2; m++) {
        double lo = NAN, hi = NAN, v[1];
        for (int k = 0; k < N_SIGMAS; k++) {
          if (!st_values(r, p, ARCHS[a], PRIVATE[m], SIGMAS[k], NAN, M_VAL_DICE, v, 1)) continue;
          if (isnan(lo)) lo = SIGMAS[k];
          hi = SIGMAS[k];
        }
        if (isnan(lo) || lo == hi) continue;
        char l[128];
        snprintf(l, sizeof l, "%s %s Dice sigma %g - sigma %g", ARCHS[a], PRIVATE[m], lo, hi);
        cmp_cells(&c, r, src, M_VAL_DICE, +1, ARCHS[a], PRIVATE[m], lo,
                  cell_lr(r, p, ARCHS[a], PRIVATE[m], lo), ARCHS[a], PRIVATE[m], hi,
                  cell_lr(r, p, ARCHS[a], PRIVATE[m], hi), l);
      }
    o->v[src] = conj_end(&c, o->evidence[src], sizeof o->evidence[src]);
  }
}

int st_observations(const st_runs *study, const st_runs *ours, st_observation *out, int max) {
  static const st_observation DEFS[] = {
      {"ac_beats_nonprivate_unet",
       "U-Net: Automatic Clipping beats non-private training (lower validation loss, higher "
       "accuracy, given the right noise multiplier)",
       "README, Results: validation loss, accuracy; Conclusion",
       "AC at its best sigma (highest mean validation Dice) vs non-private at the study's lr: "
       "validation Dice and accuracy both higher (Welch 95% CI of the difference above 0); with "
       "an lr axis, decided again at each arm's best lr: holding only untuned = lr artefact",
       {0},
       {{0}}},
      {"ac_beats_nonprivate_nested_unet",
       "Nested U-Net: Automatic Clipping nearly matches non-private training (\"AC "
       "consistently outperforms or matches Non-DP training\")",
       "README, Results: accuracy; Conclusion: Performance",
       "the same rule as for U-Net",
       {0},
       {{0}}},
      {"rs_highest_train_loss_unet",
       "U-Net: Random Sparsification has the highest training loss",
       "README, Results: training loss",
       "at every sigma with RS runs, RS's final training loss above AC's (same sigma) and above "
       "non-private (Welch 95% CI)",
       {0},
       {{0}}},
      {"rs_highest_train_loss_nested_unet",
       "Nested U-Net: Random Sparsification has the highest training loss",
       "README, Results: training loss",
       "the same rule as for U-Net",
       {0},
       {{0}}},
      {"more_noise_less_privacy_spent",
       "A higher noise multiplier leads to less privacy spent",
       "README, Results: privacy spent",
       "per architecture and private method, final epsilon strictly decreasing along the sigmas "
       "run (deterministic: one run per cell decides)",
       {0},
       {{0}}},
      {"complexity_more_privacy_spent",
       "Privacy spent increases with the complexity of the network",
       "README, Results: privacy spent",
       "at every private method and sigma run on both, Nested U-Net's final epsilon above "
       "U-Net's (deterministic)",
       {0},
       {{0}}},
      {"nested_higher_accuracy",
       "Nested U-Net achieves higher validation accuracy than U-Net",
       "README, Results: accuracy",
       "for non-private and every private method and sigma run on both architectures, Nested "
       "U-Net's final validation accuracy above U-Net's (Welch 95% CI)",
       {0},
       {{0}}},
      {"more_noise_lower_dice",
       "More noise costs utility (higher sigma, lower Dice)",
       "README, Conclusion: Privacy",
       "per architecture and private method with two or more sigmas, validation Dice at the "
       "smallest sigma above that at the largest (Welch 95% CI)",
       {0},
       {{0}}},
  };
  int n = (int)(sizeof DEFS / sizeof DEFS[0]);
  if (n > max) n = max;
  for (int i = 0; i < n; i++)
    out[i] = DEFS[i];
  if (n >= 8) {
    obs_ac_beats_np(&out[0], study, ours, "unet");
    obs_ac_beats_np(&out[1], study, ours, "nested_unet");
    obs_rs_highest_loss(&out[2], study, ours, "unet");
    obs_rs_highest_loss(&out[3], study, ours, "nested_unet");
    obs_noise_less_privacy(&out[4], study, ours);
    obs_complexity_privacy(&out[5], study, ours);
    obs_nested_accuracy(&out[6], study, ours);
    obs_noise_lower_dice(&out[7], study, ours);
  }
  return n;
}
