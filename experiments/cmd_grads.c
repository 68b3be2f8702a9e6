/* clipbench grads: per-sample gradients of a configuration's first logical
 * batch. Writes the weights used, the batch, per-sample total / per-tensor /
 * per-layer norms and the clipped gradient sum with noise switched off, and
 * prints the norm percentiles against the clip bound: "how large are my
 * gradients compared to C?", and a way to check the engine against other
 * implementations. */
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
  int n, nt, nl;
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

/* One pass over the first logical batch with a noise-free engine whose
 * expected batch is 1, so m->grads ends as sum_i c_i g_i. */
static int compute(cb_trainer *t, cb_dp *dp, grads_out *o) {
  cb_model *m = t->m;
  int *sel = cb_malloc((size_t)t->n_train * sizeof(int), "batch");
  if (!sel) return -1;
  int n = cb_trainer_draw_batch(t, 0, sel);
  o->n = n;
  o->nt = m->n_tensors;
  o->total = cb_calloc((size_t)n + 1, sizeof(double), "norms");
  o->tensor = cb_calloc((size_t)n * o->nt + 1, sizeof(double), "norms");
  o->layer = cb_calloc((size_t)n * o->nl + 1, sizeof(double), "norms");
  o->index = cb_calloc((size_t)n + 1, sizeof(int32_t), "batch");
  if (!o->total || !o->tensor || !o->layer || !o->index) return free(sel), -1;
  cb_dp_step_info info = {0, 0, 0};
  cb_dp_begin_step(dp, &info);
  for (int c0 = 0; c0 < n; c0 += t->max_phys) {
    int nc = n - c0 < t->max_phys ? n - c0 : t->max_phys;
    cb_trainer_load_chunk(t, sel + c0, nc);
    cb_model_forward(m, nc);
    cb_model_loss(m, nc);
    cb_model_backward(m, nc);
    if (cb_dp_accumulate(dp, nc)) return free(sel), -1;
    const double *tsq = cb_dp_last_tensor_sqnorms(dp);
    const double *tot = cb_dp_last_total_norms(dp);
    for (int i = 0; i < nc; i++) {
      int r = c0 + i;
      o->total[r] = tot[i];
      o->index[r] = sel[r];
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
  free(sel);
  if (cb_dp_finish_step(dp, NULL)) return -1;
  /* Non-private steps average; report the sum like the private modes. */
  if (cb_dp_accounting_sigma(dp) == 0.0 && n > 0 && t->e->dp.clipping == CB_CLIP_NONE)
    cb_launch_scale(m->be, m->n_params, (cb_k_scale){m->grads, (float)n});
  return 0;
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

static int write_files(cb_trainer *t, const grads_out *o, const char *dir, const char *id,
                       const cb_experiment *e) {
  cb_model *m = t->m;
  char path[4096];
  int64_t T = (int64_t)m->H * m->W;
  int rc = 0;
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

  cb_meta nm = {0};
  char *tn = names_json(m, 0), *ln = names_json(m, 1);
  cb_meta_set(&nm, "tensor_names", tn ? tn : "[]");
  cb_meta_set(&nm, "layer_names", ln ? ln : "[]");
  free(tn);
  free(ln);
  cb_st_entry nv[3] = {{"total", CB_ST_F64, 1, {o->n}, o->total},
                       {"per_tensor", CB_ST_F64, 2, {o->n, o->nt}, o->tensor},
                       {"per_layer", CB_ST_F64, 2, {o->n, o->nl}, o->layer}};
  snprintf(path, sizeof path, "%s/norms.safetensors", dir);
  rc |= cb_st_write(path, nv, 3, &nm);
  cb_meta_free(&nm);

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
  int json = 0;
  cb_cli_init(
      &c, "clipbench grads", "CONFIG.yaml --out DIR [options]",
      "Takes the first logical batch of a configuration and writes, as safetensors files\n"
      "in DIR: the weights used (weights), the batch (batch: images as the model saw them,\n"
      "masks, dataset indices), per-sample gradient norms (norms: total, per tensor, per\n"
      "layer) and the clipped gradient sum with noise off (clipped_sum). Prints the norm\n"
      "percentiles next to the clip bound. Weights are the configuration's initial ones,\n"
      "or those of --checkpoint.");
  c.min_pos = c.max_pos = 1;
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "DIR", "output folder (created)");
  cb_cli_add(&c, "checkpoint", CB_OPT_STR, &ckpt, "FILE",
             "weights to use (a clipbench checkpoint)");
  cb_cli_add(&c, "set", CB_OPT_STRLIST, &sets, "KEY=VALUE", "override a key; may repeat");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON summary on stdout");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out DIR is required");
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
  if (!rc) rc = compute(&t, dp, &o);
  if (!rc) rc = write_files(&t, &o, out, id, e);
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
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "run_id", id);
      cb_json_kv_str(&j, "clipping", CB_CLIPPING_NAMES[e->dp.clipping]);
      cb_json_kv_int(&j, "batch", o.n);
      if (priv) cb_json_kv_num(&j, "clip_bound", bound);
      cb_json_kv_num(&j, "frac_above_bound", o.n ? (double)over / o.n : NAN);
      static const char *const names[CB_NPCT] = {"p10", "p25", "p50", "p75", "p90", "p99", "max"};
      for (int k = 0; k < CB_NPCT; k++)
        cb_json_kv_num(&j, names[k], pct[k]);
      cb_json_kv_str(&j, "out", out);
      cb_json_obj_end(&j);
      printf("\n");
    } else {
      printf("run %s, %s, first logical batch: %d images\n", id, CB_CLIPPING_NAMES[e->dp.clipping],
             o.n);
      printf("per-sample gradient norm: p10 %.4g  p25 %.4g  p50 %.4g  p75 %.4g  p90 %.4g  p99 "
             "%.4g  max %.4g\n",
             pct[0], pct[1], pct[2], pct[3], pct[4], pct[5], pct[6]);
      if (priv && e->dp.clipping != CB_CLIP_PER_LAYER && e->dp.clipping != CB_CLIP_AUTOMATIC)
        printf("clip bound %.4g: %d of %d samples above it (%.0f%%); median / C = %.3g\n", bound,
               over, o.n, o.n ? 100.0 * over / o.n : 0.0, pct[2] / bound);
      else if (priv)
        printf("clip bound %.4g per group (%d groups); see norms.safetensors per_tensor\n",
               cb_dp_group_bound(dp, 0), cb_dp_n_groups(dp));
      printf("wrote %s/{weights,batch,norms,clipped_sum}.safetensors\n", out);
    }
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
