/* Privacy audit in one training run: canaries, scores, guesses, the bound.
 * See audit.h for the design and core/privacy/audit_bound.h for the theorem. */
#include "core/base/error.h"
#include "core/kernels/philox.h"
#include "core/privacy/audit_bound.h"
#include "experiments/progress.h"
#include "experiments/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index spaces of the CANARY stream's draws (its "step" argument). */
enum { DRAW_INCLUDE, DRAW_LAYER, DRAW_COORD, DRAW_SIGN, DRAW_PIXEL, DRAW_LABEL };

/* An input canary's pattern: random blocks of this side; its label map: one
 * random class per quadrant (memorisable, and unique to the canary). */
#define PATTERN_BLOCK 4
/* A gradient canary's value, in units of the clip bound: every mode clips it
 * to its bound (AUTO-S to R * 100C / (100C + gamma)), and a layer that
 * escapes clipping lets a hundred times the bound through. */
#define CANARY_SCALE 100.0

void cb_audit_free(cb_audit_state *a) {
  free(a->in);
  free(a->guessed);
  free(a->score);
  free(a->coord);
  free(a->value);
  free(a->which);
  free(a->grads);
  free(a->train_idx);
  memset(a, 0, sizeof *a);
}

/* Gradient canaries: round-robin over the parameterised layers, a random
 * free coordinate in each, a random sign. */
static int place_gradient(cb_trainer *t, uint64_t seed) {
  cb_audit_state *a = &t->audit;
  cb_model *m = t->m;
  if (a->m > m->n_params)
    return cb_error("audit.canaries: %d gradient canaries need as many parameters, the model has "
                    "%lld; lower audit.canaries",
                    a->m, (long long)m->n_params);
  int *nodes = cb_malloc((size_t)m->n_nodes * sizeof(int), "gradient canaries");
  int64_t *used = cb_calloc((size_t)m->n_nodes, sizeof(int64_t), "gradient canaries");
  unsigned char *taken = cb_calloc((size_t)m->n_params, 1, "gradient canaries");
  a->coord = cb_malloc((size_t)a->m * sizeof(int64_t), "gradient canaries");
  a->value = cb_malloc((size_t)a->m * sizeof(float), "gradient canaries");
  a->which = cb_malloc((size_t)a->m * sizeof(int), "gradient canaries");
  a->grads = cb_malloc((size_t)m->n_params * sizeof(float), "gradient canaries");
  int rc = -1;
  if (!nodes || !used || !taken || !a->coord || !a->value || !a->which || !a->grads) goto out;
  int nl = 0;
  for (int i = 0; i < m->n_nodes; i++)
    if (cb_node_is_param(&m->nodes[i])) nodes[nl++] = i;
  const cb_experiment *e = t->e;
  double C = e->dp.clipping == CB_CLIP_ADAPTIVE ? e->dp.adaptive.initial_bound : e->dp.clip_bound;
  int l = 0;
  for (int k = 0; k < a->m; k++) {
    /* The next layer with a free coordinate (one exists: m <= n_params). */
    while (used[nodes[l % nl]] >= m->nodes[nodes[l % nl]].p_numel)
      l++;
    const cb_node *nd = &m->nodes[nodes[l % nl]];
    int64_t p;
    uint64_t tries = 0;
    do {
      double u = cb_uniform(seed, CB_STREAM_CANARY, DRAW_COORD, (uint64_t)k * 1024u + tries++);
      int64_t j = (int64_t)((1.0 - u) * (double)nd->p_numel);
      p = nd->p_off + (j < nd->p_numel ? j : nd->p_numel - 1);
    } while (taken[p] && tries < 1024);
    if (taken[p]) /* a crowded layer: the first free coordinate */
      for (p = nd->p_off; taken[p]; p++) {
      }
    taken[p] = 1;
    used[nodes[l % nl]]++;
    l++;
    a->coord[k] = p;
    double s = cb_uniform(seed, CB_STREAM_CANARY, DRAW_SIGN, (uint64_t)k) <= 0.5 ? -1.0 : 1.0;
    a->value[k] = (float)(s * CANARY_SCALE * C);
  }
  rc = cb_dp_set_canaries(t->dp, a->m, a->coord, a->value);
out:
  free(nodes);
  free(used);
  free(taken);
  return rc;
}

/* Input canaries: appended to the data set after its images; the included
 * ones join the training list. Pattern and labels live in normalised units
 * (the data was normalised at load). */
static int place_input(cb_trainer *t, uint64_t seed) {
  cb_audit_state *a = &t->audit;
  cb_dataset *d = &t->data;
  int64_t T = (int64_t)d->H * d->W;
  int n = d->n + a->m;
  float *img = realloc(d->images, (size_t)n * T * sizeof(float));
  if (!img) return cb_error("out of memory for %d input canaries", a->m);
  d->images = img;
  uint8_t *msk = realloc(d->masks, (size_t)n * T);
  if (!msk) return cb_error("out of memory for %d input canaries", a->m);
  d->masks = msk;
  a->data_base = d->n;
  int K = t->e->model.classes;
  int bw = (d->W + PATTERN_BLOCK - 1) / PATTERN_BLOCK;
  for (int k = 0; k < a->m; k++) {
    float *x = img + (int64_t)(a->data_base + k) * T;
    uint8_t *y = msk + (int64_t)(a->data_base + k) * T;
    for (int r = 0; r < d->H; r++)
      for (int c = 0; c < d->W; c++) {
        uint64_t pb =
            (uint64_t)k * 1000003u + (uint64_t)(r / PATTERN_BLOCK) * bw + c / PATTERN_BLOCK;
        uint64_t lb = (uint64_t)k * 4u + (uint64_t)(2 * r / d->H) * 2u + (uint64_t)(2 * c / d->W);
        x[r * d->W + c] = (float)(2.0 * cb_gauss(seed, CB_STREAM_CANARY, DRAW_PIXEL, pb));
        int cls = (int)(cb_uniform(seed, CB_STREAM_CANARY, DRAW_LABEL, lb) * K);
        y[r * d->W + c] = (uint8_t)(cls >= K ? K - 1 : cls);
      }
  }
  /* Subjects and names stay those of the real images: nothing indexes them
   * beyond d->n. */
  a->train_idx = cb_malloc((size_t)(t->n_train + a->n_in) * sizeof(int), "input canaries");
  if (!a->train_idx) return -1;
  memcpy(a->train_idx, t->train_idx, (size_t)t->n_train * sizeof(int));
  int j = t->n_train;
  for (int k = 0; k < a->m; k++)
    if (a->in[k]) a->train_idx[j++] = a->data_base + k;
  t->train_idx = a->train_idx;
  t->n_train = j;
  return 0;
}

int cb_audit_setup(cb_trainer *t) {
  const cb_experiment *e = t->e;
  cb_audit_state *a = &t->audit;
  memset(a, 0, sizeof *a);
  if (e->audit.canaries <= 0) return 0;
  double t0 = cb_now();
  a->kind = e->audit.kind;
  a->m = e->audit.canaries;
  uint64_t seed = (uint64_t)e->seed;
  a->in = cb_malloc((size_t)a->m, "canaries");
  a->guessed = cb_calloc((size_t)a->m, 1, "canaries");
  a->score = cb_calloc((size_t)a->m, sizeof(double), "canaries");
  if (!a->in || !a->guessed || !a->score) return -1;
  for (int k = 0; k < a->m; k++) {
    a->in[k] = cb_uniform(seed, CB_STREAM_CANARY, DRAW_INCLUDE, (uint64_t)k) <= 0.5;
    a->n_in += a->in[k];
  }
  int rc = a->kind == CB_AUDIT_GRADIENT ? place_gradient(t, seed) : place_input(t, seed);
  a->seconds += cb_now() - t0;
  return rc;
}

int cb_audit_step(cb_trainer *t) {
  cb_audit_state *a = &t->audit;
  if (a->m == 0 || a->kind != CB_AUDIT_GRADIENT) return 0;
  double t0 = cb_now();
  /* Canary k is sample n_train + k of the Poisson draw: the real images'
   * draws are those of a run without canaries. */
  int n = 0;
  for (int k = 0; k < a->m; k++)
    if (a->in[k] && cb_uniform((uint64_t)t->e->seed, CB_STREAM_SAMPLE, t->step,
                               (uint64_t)t->n_train + (uint64_t)k) <= t->q)
      a->which[n++] = k;
  int rc = cb_dp_add_canaries(t->dp, a->which, n);
  a->seconds += cb_now() - t0;
  return rc ? -1 : n;
}

int cb_audit_after_step(cb_trainer *t) {
  cb_audit_state *a = &t->audit;
  if (a->m == 0 || a->kind != CB_AUDIT_GRADIENT) return 0;
  double t0 = cb_now();
  cb_model *m = t->m;
  m->be->download(m->be, a->grads, m->grads, (size_t)m->n_params * sizeof(float));
  for (int k = 0; k < a->m; k++)
    a->score[k] += (a->value[k] > 0 ? 1.0 : -1.0) * (double)a->grads[a->coord[k]];
  a->seconds += cb_now() - t0;
  return m->be->status(m->be);
}

/* Per-image loss of canaries [0, m) under the model's current weights. */
static int canary_losses(cb_trainer *t, double *out) {
  cb_audit_state *a = &t->audit;
  int idx[4096];
  int chunk = t->max_phys < 4096 ? t->max_phys : 4096;
  for (int c0 = 0; c0 < a->m; c0 += chunk) {
    int n = a->m - c0 < chunk ? a->m - c0 : chunk;
    for (int k = 0; k < n; k++)
      idx[k] = a->data_base + c0 + k;
    cb_trainer_load_chunk(t, idx, n);
    cb_model_forward(t->m, n);
    cb_model_loss(t->m, n);
    for (int k = 0; k < n; k++)
      out[c0 + k] = t->m->host_loss[k];
  }
  return t->m->be->status(t->m->be);
}

/* Loss difference: initial weights (the seed's initialisation, recomputed)
 * minus final weights. The final weights are put back afterwards. */
static int score_input(cb_trainer *t) {
  cb_audit_state *a = &t->audit;
  cb_model *m = t->m;
  double *final = cb_malloc((size_t)a->m * sizeof(double), "canary scores");
  float *keep = cb_malloc((size_t)m->n_params * sizeof(float), "canary scores");
  int rc = -1;
  if (!final || !keep) goto out;
  if (canary_losses(t, final)) goto out;
  m->be->download(m->be, keep, m->params, (size_t)m->n_params * sizeof(float));
  cb_model_init_params(m, (uint64_t)t->e->seed);
  rc = canary_losses(t, a->score);
  m->be->upload(m->be, m->params, keep, (size_t)m->n_params * sizeof(float));
  for (int k = 0; k < a->m; k++)
    a->score[k] -= final[k];
  if (!rc) rc = m->be->status(m->be);
out:
  free(final);
  free(keep);
  return rc;
}

static const double *g_scores;
/* Highest score first; ties by canary index, which is independent of the
 * inclusion coins. */
static int by_score(const void *pa, const void *pb) {
  int a = *(const int *)pa, b = *(const int *)pb;
  if (g_scores[a] != g_scores[b]) return g_scores[a] > g_scores[b] ? -1 : 1;
  return (a > b) - (a < b);
}

int cb_audit_finish(cb_trainer *t, cb_audit_row *r) {
  cb_audit_state *a = &t->audit;
  const cb_experiment *e = t->e;
  memset(r, 0, sizeof *r);
  if (a->m == 0) return 0;
  double t0 = cb_now();
  if (a->kind == CB_AUDIT_INPUT && score_input(t)) return -1;
  int *order = cb_malloc((size_t)a->m * sizeof(int), "canary scores");
  if (!order) return -1;
  for (int k = 0; k < a->m; k++) {
    order[k] = k;
    if (!isfinite(a->score[k])) {
      free(order);
      return cb_error("audit: canary %d has score %g; the run diverged", k, a->score[k]);
    }
  }
  g_scores = a->score;
  qsort(order, (size_t)a->m, sizeof(int), by_score);
  int k_guess = e->audit.guesses, correct = 0;
  memset(a->guessed, 0, (size_t)a->m);
  for (int i = 0; i < k_guess; i++) {
    a->guessed[order[i]] = 1;
    correct += a->in[order[i]];
  }
  free(order);
  r->kind = CB_AUDIT_KIND_NAMES[a->kind];
  r->canaries = a->m;
  r->included = a->n_in;
  r->guesses = k_guess;
  r->correct = correct;
  r->confidence = e->audit.confidence;
  r->delta = e->dp.delta;
  if (cb_audit_epsilon_lb(a->m, k_guess, correct, r->delta, r->confidence, &r->epsilon_lb))
    return -1;
  r->epsilon = NAN;
  if (t->private_run && e->dp.n_accountants > 0) {
    cb_eps_result res;
    if (cb_epsilon(&t->hist, (cb_accountant)e->dp.accountants[0], e->dp.delta, &res) == 0) {
      r->epsilon = res.epsilon;
      r->accountant = cb_accountant_name(res.accountant);
      r->privacy_bug = r->epsilon_lb > r->epsilon;
    }
  }
  a->seconds += cb_now() - t0;
  r->seconds = a->seconds;
  r->in = a->in;
  r->guessed = a->guessed;
  r->score = a->score;
  return 0;
}

int cb_audit_save(const cb_trainer *t, cb_meta *md) {
  const cb_audit_state *a = &t->audit;
  if (a->m == 0 || a->kind != CB_AUDIT_GRADIENT) return 0;
  char *buf = cb_malloc((size_t)a->m * 26 + 1, "canary scores");
  if (!buf) return -1;
  size_t off = 0;
  for (int k = 0; k < a->m; k++)
    off += (size_t)snprintf(buf + off, 26, "%s%.17g", k ? " " : "", a->score[k]);
  int rc = cb_meta_set(md, "audit_scores", buf);
  free(buf);
  return rc;
}

int cb_audit_restore(cb_trainer *t, const cb_meta *md, const char *path) {
  cb_audit_state *a = &t->audit;
  if (a->m == 0 || a->kind != CB_AUDIT_GRADIENT) return 0;
  const char *s = cb_meta_get(md, "audit_scores");
  if (!s)
    return cb_error("%s: checkpoint metadata has no 'audit_scores' for the audit's canaries", path);
  for (int k = 0; k < a->m; k++) {
    char *end;
    a->score[k] = strtod(s, &end);
    if (end == s || !isfinite(a->score[k]))
      return cb_error("%s: checkpoint metadata 'audit_scores' has %d of %d canary scores", path, k,
                      a->m);
    s = end;
  }
  while (*s == ' ')
    s++;
  if (*s)
    return cb_error("%s: checkpoint metadata 'audit_scores' has more than %d canary scores", path,
                    a->m);
  return 0;
}
