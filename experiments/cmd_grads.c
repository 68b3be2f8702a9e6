/* clipbench grads: per-sample gradients of a configuration at given weights.
 * On its first logical batch it writes the weights used, the batch,
 * per-sample total / per-tensor / per-layer norms and the clipped gradient sum
 * with noise switched off (a way to check the engine against other
 * implementations). Over --batches N logical batches or a whole split
 * (--epoch, --split val) it answers "how large are my gradients compared to
 * C?": percentiles of the total norm and of each clipping group's norm, the
 * fraction above the bound, and a recommended C per clipping mode, with the
 * privacy caveat (the norms of private data are private themselves). */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/base/paths.h"
#include "core/cli/commands.h"
#include "core/io/checkpoint.h"
#include "experiments/config.h"
#include "experiments/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  int n, nt, nl, cap, batches;
  double *total;  /* [n] */
  double *tensor; /* [n][nt] */
  double *layer;  /* [n][nl] */
  int32_t *index;
} grads_out;

static int load_experiment(cb_experiment *e, const char *file, const cb_strlist *sets) {
  cb_exp_init(e);
  if (cb_exp_load_file(e, file)) return -1;
  for (int i = 0; i < sets->n; i++)
    if (cb_exp_set(e, sets->v[i])) return -1;
  return cb_exp_resolve(e);
}

static int grow(grads_out *o, int need) {
  if (need <= o->cap) return 0;
  int cap = o->cap ? o->cap : 64;
  while (cap < need)
    cap *= 2;
  double *tot = realloc(o->total, sizeof(double) * (size_t)cap);
  if (tot) o->total = tot;
  double *ten = realloc(o->tensor, sizeof(double) * (size_t)cap * (size_t)o->nt);
  if (ten) o->tensor = ten;
  double *lay = realloc(o->layer, sizeof(double) * (size_t)cap * (size_t)(o->nl ? o->nl : 1));
  if (lay) o->layer = lay;
  int32_t *idx = realloc(o->index, sizeof(int32_t) * (size_t)cap);
  if (idx) o->index = idx;
  if (!tot || !ten || !lay || !idx) return cb_error("out of memory for per-sample norms");
  o->cap = cap;
  return 0;
}

/* One logical batch (image indices sel[0..n)) through a noise-free engine
 * whose expected batch is 1, so m->grads ends as sum_i c_i g_i; appends the
 * per-sample norms to o. */
static int one_batch(cb_trainer *t, cb_dp *dp, const int *sel, int n, grads_out *o) {
  cb_model *m = t->m;
  if (grow(o, o->n + n)) return -1;
  cb_dp_step_info info = {0, 0, 0};
  cb_dp_begin_step(dp, &info);
  for (int c0 = 0; c0 < n; c0 += t->max_phys) {
    int nc = n - c0 < t->max_phys ? n - c0 : t->max_phys;
    cb_trainer_load_chunk(t, sel + c0, nc);
    cb_model_forward(m, nc);
    cb_model_loss(m, nc);
    cb_model_backward(m, nc);
    if (cb_dp_accumulate(dp, nc)) return -1;
    const double *tsq = cb_dp_last_tensor_sqnorms(dp);
    const double *tot = cb_dp_last_total_norms(dp);
    for (int i = 0; i < nc; i++) {
      int r = o->n + c0 + i;
      o->total[r] = tot[i];
      o->index[r] = sel[c0 + i];
      int l = 0;
      for (int k = 0; k < m->n_nodes; k++) {
        const cb_node *nd = &m->nodes[k];
        if (!cb_node_is_param(nd)) continue;
        double s = tsq[(size_t)i * o->nt + nd->w_tensor];
        if (nd->b_tensor >= 0) s += tsq[(size_t)i * o->nt + nd->b_tensor];
        o->layer[(size_t)r * o->nl + l++] = sqrt(s);
      }
      for (int k = 0; k < o->nt; k++)
        o->tensor[(size_t)r * o->nt + k] = sqrt(tsq[(size_t)i * o->nt + k]);
    }
  }
  o->n += n;
  o->batches++;
  if (cb_dp_finish_step(dp, NULL)) return -1;
  /* Non-private steps average; report the sum like the private modes. */
  if (cb_dp_accounting_sigma(dp) == 0.0 && n > 0 && t->e->dp.clipping == CB_CLIP_NONE)
    cb_launch_scale(m->be, m->n_params, (cb_k_scale){m->grads, (float)n});
  return 0;
}

/* The first `batches` logical batches of the training split, or with
 * `whole` every image of the split (train, or val when eval is set) in
 * batches of the configured size. */
static int compute(cb_trainer *t, cb_dp *dp, int batches, int whole, int eval, grads_out *o) {
  o->nt = t->m->n_tensors;
  int n_list = eval ? t->n_eval : t->n_train;
  const int *list = eval ? t->eval_idx : t->train_idx;
  int *sel =
      cb_malloc((size_t)(t->n_train > n_list ? t->n_train : n_list) * sizeof(int) + 1, "batch");
  if (!sel) return -1;
  int rc = 0;
  if (whole || eval) {
    int B = t->e->train.batch_size > 0 ? t->e->train.batch_size : 1;
    for (int lo = 0; !rc && lo < n_list; lo += B) {
      int n = n_list - lo < B ? n_list - lo : B;
      memcpy(sel, list + lo, sizeof(int) * (size_t)n);
      rc = one_batch(t, dp, sel, n, o);
    }
  } else {
    uint32_t step0 = t->step;
    for (int b = 0; !rc && b < batches; b++) {
      t->step = step0 + (uint32_t)b; /* Poisson batches are drawn per global step */
      rc = one_batch(t, dp, sel, cb_trainer_draw_batch(t, b, sel), o);
    }
    t->step = step0;
  }
  free(sel);
  return rc;
}

/* Median over groups of each group's median per-sample norm (x is [n][k]). */
static double median_of_medians(const double *x, int n, int k) {
  double *col = cb_malloc(sizeof(double) * (size_t)(n ? n : 1), "norms");
  double *med = cb_malloc(sizeof(double) * (size_t)(k ? k : 1), "norms");
  double r = NAN;
  if (col && med && n > 0 && k > 0) {
    for (int g = 0; g < k; g++) {
      for (int i = 0; i < n; i++)
        col[i] = x[(size_t)i * k + g];
      med[g] = cb_percentile(col, n, 50.0);
    }
    r = cb_percentile(med, k, 50.0);
  }
  free(col);
  free(med);
  return r;
}

static char *names_json(const cb_model *m, int layers) {
  cb_json j;
  cb_json_init_mem(&j);
  cb_json_arr_begin(&j);
  if (layers) {
    for (int k = 0; k < m->n_nodes; k++)
      if (cb_node_is_param(&m->nodes[k])) cb_json_str(&j, m->nodes[k].name);
  } else {
    for (int t = 0; t < m->n_tensors; t++)
      cb_json_str(&j, m->tensors[t].name);
  }
  cb_json_arr_end(&j);
  char *s = cb_strdup(cb_json_text(&j));
  cb_json_free(&j);
  return s;
}

/* Every sample's norms (total, per tensor, per layer) and dataset index,
 * with the tensor and layer names. */
static int write_norms(const cb_model *m, const grads_out *o, const char *dir) {
  char path[4096];
  cb_meta nm = {0};
  char *tn = names_json(m, 0), *ln = names_json(m, 1);
  cb_meta_set(&nm, "tensor_names", tn ? tn : "[]");
  cb_meta_set(&nm, "layer_names", ln ? ln : "[]");
  free(tn);
  free(ln);
  cb_st_entry nv[4] = {{"total", CB_ST_F64, 1, {o->n}, o->total},
                       {"per_tensor", CB_ST_F64, 2, {o->n, o->nt}, o->tensor},
                       {"per_layer", CB_ST_F64, 2, {o->n, o->nl}, o->layer},
                       {"index", CB_ST_I32, 1, {o->n}, o->index}};
  snprintf(path, sizeof path, "%s/norms.safetensors", dir);
  int rc = cb_st_write(path, nv, 4, &nm);
  cb_meta_free(&nm);
  return rc ? -1 : 0;
}

/* norms.safetensors always; with full (one batch) also the weights, the batch
 * and the clipped sum. */
static int write_files(cb_trainer *t, const grads_out *o, const char *dir, const char *id,
                       const cb_experiment *e, int full) {
  cb_model *m = t->m;
  char path[4096];
  int64_t T = (int64_t)m->H * m->W;
  int rc = 0;
  if (write_norms(m, o, dir)) return -1;
  if (!full) return 0;
  cb_meta md = {0};
  cb_meta_set(&md, "run_id", id);
  cb_meta_set(&md, "note", "weights the per-sample gradients were taken at");
  snprintf(path, sizeof path, "%s/weights.safetensors", dir);
  rc |= cb_checkpoint_save(path, m, NULL, &md);
  cb_meta_free(&md);

  /* The batch, normalised as the model saw it. */
  float *img = cb_malloc(sizeof(float) * (o->n ? o->n : 1) * T, "batch");
  uint8_t *msk = cb_malloc((size_t)(o->n ? o->n : 1) * T, "batch");
  if (!img || !msk) return -1;
  for (int i = 0; i < o->n; i++) {
    memcpy(img + i * T, t->data.images + (int64_t)o->index[i] * T, sizeof(float) * T);
    memcpy(msk + i * T, t->data.masks + (int64_t)o->index[i] * T, (size_t)T);
  }
  cb_st_entry b[3] = {{"images", CB_ST_F32, 4, {o->n, 1, m->H, m->W}, img},
                      {"masks", CB_ST_U8, 3, {o->n, m->H, m->W}, msk},
                      {"index", CB_ST_I32, 1, {o->n}, o->index}};
  snprintf(path, sizeof path, "%s/batch.safetensors", dir);
  rc |= cb_st_write(path, b, 3, NULL);
  free(img);
  free(msk);

  /* The clipped sum, not divided by the batch size, under the model's names. */
  float *g = cb_malloc(sizeof(float) * m->n_params, "gradients");
  cb_st_entry *ge = cb_calloc((size_t)m->n_tensors, sizeof *ge, "gradients");
  if (!g || !ge) return -1;
  m->be->download(m->be, g, m->grads, sizeof(float) * m->n_params);
  for (int k = 0; k < m->n_tensors; k++) {
    const cb_tensor *ts = &m->tensors[k];
    ge[k].name = ts->name;
    ge[k].dtype = CB_ST_F32;
    ge[k].ndim = ts->ndim;
    for (int d = 0; d < ts->ndim; d++)
      ge[k].shape[d] = ts->shape[d];
    ge[k].data = g + ts->offset;
  }
  cb_meta cm = {0};
  cb_meta_set(&cm, "clipping", CB_CLIPPING_NAMES[e->dp.clipping]);
  cb_meta_set(&cm, "note",
              "sum over the batch of clipped per-sample gradients; no noise, not divided");
  snprintf(path, sizeof path, "%s/clipped_sum.safetensors", dir);
  rc |= cb_st_write(path, ge, m->n_tensors, &cm);
  cb_meta_free(&cm);
  free(g);
  free(ge);
  return rc ? -1 : 0;
}

int cb_cmd_grads(int argc, char **argv) {
  cb_cli c;
  cb_strlist sets = {0};
  const char *ckpt = NULL, *out = NULL;
  int json = 0, batches = 1, whole = 0, split = 0;
  static const char *const SPLITS[] = {"train", "val", NULL};
  cb_cli_init(
      &c, "clipbench grads", "CONFIG.yaml --out DIR [options]",
      "How large are the per-sample gradients compared to C? Takes the first logical batch\n"
      "of a configuration (or --batches N, or a whole split with --epoch / --split val) and\n"
      "prints percentiles of the total per-sample norm and of each clipping group's, the\n"
      "fraction above the bound, and a recommended C for each clipping mode, with the privacy\n"
      "caveat. Writes, as safetensors files in DIR, the per-sample norms (norms: total, per\n"
      "tensor, per layer, dataset index) and, for one batch, the weights used (weights), the\n"
      "batch (images as the model saw them, masks) and the clipped gradient sum with noise\n"
      "off (clipped_sum). Weights are the configuration's initial ones, or --checkpoint's.");
  c.min_pos = c.max_pos = 1;
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "DIR", "output folder (created)");
  cb_cli_add(&c, "checkpoint", CB_OPT_STR, &ckpt, "FILE",
             "weights to use (a clipbench checkpoint)");
  cb_cli_add(&c, "set", CB_OPT_STRLIST, &sets, "KEY=VALUE", "override a key; may repeat");
  cb_cli_add(&c, "batches", CB_OPT_INT, &batches, "N",
             "the first N logical batches of the training split (1)");
  cb_cli_add(&c, "epoch", CB_OPT_FLAG, &whole, NULL, "every image of the split, once");
  cb_cli_add_choice(&c, "split", &split, SPLITS,
                    "train, or val: held-out images, whose norms spend no training privacy "
                    "(implies --epoch)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON summary on stdout");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out DIR is required");
  if (batches < 1 || batches > 1000000)
    return cb_error("--batches %d: give a number of logical batches from 1 to 1000000", batches);
  if (cb_mkdir_p(out)) return -1;
  if (access(out, W_OK)) return cb_error("cannot write to %s", out);
  cb_experiment *e = cb_malloc(sizeof *e, "experiment");
  if (!e || load_experiment(e, c.pos[0], &sets)) return free(e), -1;
  char id[CB_RUN_ID_LEN + 1];
  cb_exp_id(e, id);
  cb_trainer t;
  grads_out o = {0};
  cb_dp *dp = NULL;
  rc = cb_trainer_setup(&t, e, id);
  if (!rc && ckpt) rc = cb_checkpoint_load(ckpt, t.m, NULL, NULL);
  if (!rc) {
    cb_dp_cfg dc;
    cb_exp_dp_cfg(e, &dc);
    dc.noise_multiplier = 0.0;
    dc.expected_batch = 1.0;
    dc.steps_per_epoch = t.steps_per_epoch;
    dc.record_norms = 1;
    if (!(dc.clip_bound > 0)) dc.clip_bound = e->dp.clip_bound;
    dp = cb_dp_create(t.m, &dc);
    rc = dp ? 0 : -1;
  }
  for (int k = 0; !rc && k < t.m->n_nodes; k++)
    o.nl += cb_node_is_param(&t.m->nodes[k]);
  int full = batches == 1 && !whole && !split;
  if (!rc) rc = compute(&t, dp, batches, whole, split, &o);
  if (!rc) rc = write_files(&t, &o, out, id, e, full);
  if (!rc) {
    double pct[CB_NPCT], bound = cb_dp_clip_bound(dp);
    double *tmp = cb_malloc(sizeof(double) * (o.n ? o.n : 1), "norms");
    int over = 0;
    for (int i = 0; i < o.n; i++) {
      tmp[i] = o.total[i];
      over += o.total[i] > bound;
    }
    for (int k = 0; k < CB_NPCT; k++)
      pct[k] = cb_percentile(tmp, o.n, CB_PERCENTILES[k]);
    free(tmp);
    int priv = e->dp.clipping != CB_CLIP_NONE;
    /* Recommendations: C near the median norm clips about half the samples,
     * the usual starting point (and the target of adaptive clipping). */
    double rec_total = pct[2];
    double rec_tensor = median_of_medians(o.tensor, o.n, o.nt);
    double rec_layer = median_of_medians(o.layer, o.n, o.nl);
    int ng = cb_dp_stats_max_groups(dp);
    cb_dp_group_stats *gs = cb_calloc((size_t)ng + 1, sizeof *gs, "group norms");
    ng = gs ? cb_dp_stats_groups(dp, gs) : -1;
    int above = 0;
    for (int g = 0; g < ng; g++)
      above += gs[g].frac_clipped > 0;
    const char *what = split   ? "the validation split"
                       : whole ? "the training split"
                               : "training batches";
    const char *caveat =
        split ? "these norms are of validation images, which training does not see: choosing C "
                "from them spends no training privacy (keep them apart from the test split)"
              : "these norms are of the private training images: choosing C from them leaks "
                "information that no accountant counts. Choose C on public or held-out data "
                "(--split val), or let adaptive clipping (dp.clipping: adaptive) find it "
                "privately";
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "run_id", id);
      cb_json_kv_str(&j, "clipping", CB_CLIPPING_NAMES[e->dp.clipping]);
      cb_json_kv_int(&j, "batch", o.n);
      cb_json_kv_int(&j, "batches", o.batches);
      cb_json_kv_str(&j, "split", SPLITS[split]);
      cb_json_kv_str(&j, "weights", ckpt ? ckpt : "initial");
      if (priv) cb_json_kv_num(&j, "clip_bound", bound);
      cb_json_kv_num(&j, "frac_above_bound", o.n ? (double)over / o.n : NAN);
      static const char *const names[CB_NPCT] = {"p10", "p25", "p50", "p75", "p90", "p99", "max"};
      for (int k = 0; k < CB_NPCT; k++)
        cb_json_kv_num(&j, names[k], pct[k]);
      cb_json_key(&j, "recommended_clip_bound");
      cb_json_obj_begin(&j);
      cb_json_kv_num(&j, "flat", rec_total);
      cb_json_kv_num(&j, "per_layer_tensor_same", rec_tensor);
      cb_json_kv_num(&j, "per_layer_tensor_split", rec_tensor * sqrt((double)o.nt));
      cb_json_kv_num(&j, "per_layer_layer_same", rec_layer);
      cb_json_kv_num(&j, "per_layer_layer_split", rec_layer * sqrt((double)o.nl));
      cb_json_kv_num(&j, "adaptive_initial", rec_total);
      cb_json_obj_end(&j);
      cb_json_kv_int(&j, "groups", ng);
      cb_json_kv_int(&j, "groups_clipped", above);
      cb_json_kv_str(&j, "privacy_caveat", caveat);
      cb_json_kv_str(&j, "out", out);
      cb_json_obj_end(&j);
      printf("\n");
    } else {
      printf("run %s, %s, weights %s: %d images of %s (%d logical batch%s)\n", id,
             CB_CLIPPING_NAMES[e->dp.clipping], ckpt ? ckpt : "initial", o.n, what, o.batches,
             o.batches == 1 ? "" : "es");
      printf("per-sample gradient norm: p10 %.4g  p25 %.4g  p50 %.4g  p75 %.4g  p90 %.4g  p99 "
             "%.4g  max %.4g\n",
             pct[0], pct[1], pct[2], pct[3], pct[4], pct[5], pct[6]);
      if (priv && ng > 0 && strcmp(gs[0].scope, "model") != 0)
        printf("C_k = %.4g per %s (%d groups): %d groups have samples above their bound; "
               "median group norm %.4g\n",
               gs[0].bound, gs[0].scope, ng, above,
               strcmp(gs[0].scope, "tensor") == 0 ? rec_tensor : rec_layer);
      else if (priv)
        printf("clip bound %.4g: %d of %d samples above it (%.0f%%); median / C = %.3g\n", bound,
               over, o.n, o.n ? 100.0 * over / o.n : 0.0, pct[2] / bound);
      printf("recommended C (about half the samples clipped):\n"
             "  flat, random_sparsification  C = %.3g (median total norm)\n"
             "  adaptive                     initial C = %.3g; it then tracks the target "
             "quantile privately\n"
             "  per_layer by tensor          C = %.3g with thresholds: same; %.3g with split "
             "(%d tensors)\n"
             "  per_layer by layer           C = %.3g with thresholds: same; %.3g with split "
             "(%d layers)\n"
             "  automatic                    R only scales the update (like the learning rate): "
             "keep R = 1 and tune train.lr\n",
             rec_total, rec_total, rec_tensor, rec_tensor * sqrt((double)o.nt), o.nt, rec_layer,
             rec_layer * sqrt((double)o.nl), o.nl);
      printf("privacy: %s.\n", caveat);
      printf("wrote %s/%s\n", out,
             full ? "{weights,batch,norms,clipped_sum}.safetensors" : "norms.safetensors");
    }
    free(gs);
  }
  cb_dp_free(dp);
  cb_trainer_free(&t);
  free(o.total);
  free(o.tensor);
  free(o.layer);
  free(o.index);
  free(e);
  return rc;
}
