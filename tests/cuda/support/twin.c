#include "tests/cuda/support/twin.h"

#include "core/base/error.h"
#include "tests/cuda/support/parity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void alloc_both(tw_model *t, int max_batch) {
  assert_non_null(t->cpu);
  assert_non_null(t->dev);
  assert_int_equal(t->cpu->n_params, t->dev->n_params);
  assert_int_equal(t->cpu->n_nodes, t->dev->n_nodes);
  if (cb_model_alloc(t->cpu, max_batch)) fail_msg("cpu alloc: %s", cb_last_error());
  if (cb_model_alloc(t->dev, max_batch)) fail_msg("device alloc: %s", cb_last_error());
  int64_t T = (int64_t)t->cpu->H * t->cpu->W;
  t->x = calloc((size_t)(max_batch * t->cpu->cfg.in_channels * T), sizeof(float));
  t->labels = calloc((size_t)(max_batch * T), 1);
}

tw_model tw_graph(int cin, int H, int W, int classes, tw_build_fn build, int max_batch) {
  tw_model t = {0};
  t.cpu = cb_model_create_graph(pt_cpu(), cin, H, W, classes);
  t.dev = cb_model_create_graph(pt_dev(), cin, H, W, classes);
  assert_non_null(t.cpu);
  assert_non_null(t.dev);
  build(t.cpu);
  build(t.dev);
  alloc_both(&t, max_batch);
  return t;
}

tw_model tw_arch(const cb_model_cfg *cfg, int H, int W, int max_batch) {
  tw_model t = {0};
  t.cpu = cb_model_create(pt_cpu(), cfg, H, W);
  t.dev = cb_model_create(pt_dev(), cfg, H, W);
  alloc_both(&t, max_batch);
  return t;
}

void tw_free(tw_model *t) {
  cb_model_free(t->cpu);
  cb_model_free(t->dev);
  free(t->x);
  free(t->labels);
}

void tw_random_params(tw_model *t, uint64_t seed) {
  cb_model *m = t->cpu;
  float *h = malloc((size_t)m->n_params * sizeof(float));
  for (int k = 0; k < m->n_tensors; k++) {
    const cb_tensor *ts = &m->tensors[k];
    int gn_weight = m->nodes[ts->node].kind == CB_NODE_GN && !ts->is_bias;
    tst_fill_uniform(h + ts->offset, (size_t)ts->numel, seed * 1000 + (uint64_t)k,
                     gn_weight ? 0.5f : -1.0f, gn_weight ? 1.5f : 1.0f);
  }
  t->cpu->be->upload(t->cpu->be, t->cpu->params, h, (size_t)m->n_params * sizeof(float));
  t->dev->be->upload(t->dev->be, t->dev->params, h, (size_t)m->n_params * sizeof(float));
  free(h);
}

void tw_init_params(tw_model *t, uint64_t seed) {
  cb_model_init_params(t->cpu, seed);
  cb_model_init_params(t->dev, seed);
  /* Initialisation is drawn on the host, so it must agree bit for bit. */
  float *d = pt_download(t->dev->params, t->dev->n_params);
  pt_expect_exact("initial parameters", d, t->cpu->params, t->cpu->n_params);
  free(d);
}

void tw_data(tw_model *t, int n, uint64_t seed) {
  cb_model *m = t->cpu;
  int K = m->cfg.classes;
  int64_t T = (int64_t)m->H * m->W, xs = (int64_t)m->cfg.in_channels * T;
  assert_true(n <= m->max_batch);
  tst_fill_uniform(t->x, (size_t)(n * xs), seed, -1.0f, 1.0f);
  for (int64_t j = 0; j < n * T; j++)
    t->labels[j] = (unsigned char)((j * 7 + j / 5 + (int64_t)seed) % K);
  cb_model *ms[2] = {t->cpu, t->dev};
  for (int s = 0; s < 2; s++) {
    ms[s]->be->upload(ms[s]->be, ms[s]->input, t->x, (size_t)(n * xs) * sizeof(float));
    ms[s]->be->upload(ms[s]->be, ms[s]->labels, t->labels, (size_t)(n * T));
  }
  t->n = n;
}

void tw_forward_loss(tw_model *t) {
  cb_model_forward(t->cpu, t->n);
  cb_model_forward(t->dev, t->n);
  cb_model_loss(t->cpu, t->n);
  cb_model_loss(t->dev, t->n);
  if (pt_dev()->status(pt_dev())) fail_msg("device error: %s", cb_last_error());
}

void tw_compare_dev(const char *what, const float *dev, const float *cpu, int64_t n, double tol) {
  float *h = pt_download(dev, n);
  pt_expect_close(what, h, cpu, n, tol);
  free(h);
}

static void compare_nodes(const tw_model *t, double tol, int grads) {
  for (int i = 0; i < t->cpu->n_nodes; i++) {
    const cb_node *c = &t->cpu->nodes[i], *d = &t->dev->nodes[i];
    const float *cb = grads ? c->dout : c->out, *db = grads ? d->dout : d->out;
    if (!cb) continue;
    char what[128];
    snprintf(what, sizeof what, "node %d %s %s", i, c->name, grads ? "gradient" : "output");
    tw_compare_dev(what, db, cb, (int64_t)t->n * c->C * c->H * c->W, tol);
  }
}

void tw_compare_outputs(const tw_model *t, double tol) {
  compare_nodes(t, tol, 0);
}
void tw_compare_gradients(const tw_model *t, double tol) {
  compare_nodes(t, tol, 1);
}
