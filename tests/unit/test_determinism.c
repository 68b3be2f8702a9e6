/* Reproducibility: the same seed and thread count give bit-identical losses
 * and weights over several non-private SGD (momentum) steps of a tiny U-Net
 * and Nested U-Net, for two thread counts; a different seed gives different
 * losses (so the comparison can fail). Data are drawn from Philox by (seed,
 * step), as the synthetic data set does. */
#include "core/kernels/philox.h"
#include "core/nn/model.h"
#include "core/optim/optim.h"
#include "tests/unit/support.h"

#include <stdlib.h>
#include <string.h>

#define STEPS 4
#define N 3
#define SIZE 16

typedef struct {
  float loss[STEPS][N];
  float *params;
  int64_t n_params;
} run_result;

static void train(cb_arch arch, uint64_t seed, int threads, run_result *r) {
  const cb_backend *be = cb_backend_cpu();
  be->set_threads(be, threads);
  cb_model_cfg c;
  cb_model_cfg_default(&c, arch);
  c.width = 4;
  c.depth = 2;
  c.groups = 2;
  c.classes = 3;
  cb_model *m = cb_model_create(be, &c, SIZE, SIZE);
  assert_non_null(m);
  assert_int_equal(cb_model_alloc(m, N), 0);
  cb_model_init_params(m, seed);
  cb_optim_cfg oc;
  cb_optim_cfg_default(&oc, CB_OPTIM_SGD);
  oc.momentum = 0.9;
  oc.weight_decay = 1e-4;
  cb_optim *o = cb_optim_create(be, &oc, m->n_params);
  assert_non_null(o);
  float coef[N];
  for (int i = 0; i < N; i++)
    coef[i] = 1.0f / N;
  int64_t T = SIZE * SIZE;
  for (int s = 0; s < STEPS; s++) {
    for (int64_t j = 0; j < N * T; j++) {
      m->input[j] = (float)cb_uniform(seed, CB_STREAM_DATA, (uint32_t)s, (uint64_t)j);
      m->labels[j] = (unsigned char)((j % SIZE) * 3 / SIZE); /* column bands */
    }
    cb_model_forward(m, N);
    cb_model_loss(m, N);
    cb_model_backward(m, N);
    cb_model_param_grads(m, N, coef);
    cb_optim_step(o, m->params, m->grads, 0.05);
    memcpy(r->loss[s], m->host_loss, sizeof r->loss[s]);
  }
  r->n_params = m->n_params;
  r->params = malloc((size_t)m->n_params * sizeof(float));
  memcpy(r->params, m->params, (size_t)m->n_params * sizeof(float));
  cb_optim_free(o);
  cb_model_free(m);
  be->set_threads(be, 2);
}

static void check_arch(cb_arch arch) {
  for (int threads = 1; threads <= 2; threads++) {
    run_result a, b, c;
    train(arch, 42, threads, &a);
    train(arch, 42, threads, &b);
    train(arch, 43, threads, &c);
    assert_memory_equal(a.loss, b.loss, sizeof a.loss);
    assert_memory_equal(a.params, b.params, (size_t)a.n_params * sizeof(float));
    assert_memory_not_equal(a.loss, c.loss, sizeof a.loss);
    for (int s = 0; s < STEPS; s++)
      for (int i = 0; i < N; i++)
        assert_true(a.loss[s][i] > 0.0f && a.loss[s][i] < 10.0f);
    free(a.params);
    free(b.params);
    free(c.params);
  }
}

static void test_unet_deterministic(void **s) {
  (void)s;
  check_arch(CB_ARCH_UNET);
}

static void test_nested_unet_deterministic(void **s) {
  (void)s;
  check_arch(CB_ARCH_NESTED_UNET);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unet_deterministic),
      cmocka_unit_test(test_nested_unet_deterministic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
