/* Checkpoints: a bit-exact round trip of weights, optimizer state, step
 * count and metadata; resuming from a checkpoint continues bit-identically to
 * an uninterrupted run for every optimizer; loading the wrong model, the
 * wrong optimizer or a damaged file fails with a clear message and changes
 * nothing.
 *
 * With CB_CHECKPOINT_EXPORT=DIR it also writes checkpoints of a tiny U-Net
 * and Nested U-Net plus probe files (input, labels, our losses) for the
 * development-time PyTorch check tests/gen/check_checkpoint.py. */
#include "core/base/error.h"
#include "core/io/checkpoint.h"
#include "core/kernels/philox.h"
#include "tests/unit/support.h"
#include "tests/unit/support/gradcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A path in the test's temporary directory (a fresh string each call). */
static const char *tmp_path(const char *name) {
  static char buf[8][1024];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", tst_tmpdir(), name);
  return b;
}

static cb_model *tiny(cb_arch arch, int width, uint64_t seed) {
  cb_model_cfg c;
  cb_model_cfg_default(&c, arch);
  c.width = width;
  c.depth = 2;
  c.groups = 2;
  c.classes = 3;
  cb_model *m = cb_model_create(cb_backend_cpu(), &c, 16, 16);
  assert_non_null(m);
  assert_int_equal(cb_model_alloc(m, 2), 0);
  cb_model_init_params(m, seed);
  return m;
}

static cb_optim *optim(cb_optim_kind kind, int64_t n) {
  cb_optim_cfg c;
  cb_optim_cfg_default(&c, kind);
  if (kind == CB_OPTIM_SGD) {
    c.momentum = 0.9;
    c.nesterov = 1;
    c.weight_decay = 1e-4;
  }
  cb_optim *o = cb_optim_create(cb_backend_cpu(), &c, n);
  assert_non_null(o);
  return o;
}

/* Step k's gradient: fixed random values, as a data loader would give. */
static void steps(cb_model *m, cb_optim *o, int from, int to) {
  for (int k = from; k < to; k++) {
    tst_fill_uniform(m->grads, (size_t)m->n_params, 1000 + (uint64_t)k, -1.0f, 1.0f);
    cb_optim_step(o, m->params, m->grads, o->cfg.lr * (1.0 - 0.1 * k));
  }
}

static void assert_same_state(const cb_model *a, const cb_optim *oa, const cb_model *b,
                              const cb_optim *ob) {
  assert_memory_equal(a->params, b->params, (size_t)a->n_params * sizeof(float));
  if (!oa) return;
  assert_int_equal(oa->steps, ob->steps);
  assert_int_equal(oa->n_slots, ob->n_slots);
  for (int k = 0; k < oa->n_slots; k++)
    assert_memory_equal(oa->slot[k], ob->slot[k], (size_t)a->n_params * sizeof(float));
}

static void test_round_trip(void **s) {
  (void)s;
  const char *path = tmp_path("rt.safetensors");
  cb_model *m = tiny(CB_ARCH_UNET, 4, 1);
  cb_optim *o = optim(CB_OPTIM_ADAMW, m->n_params);
  steps(m, o, 0, 3);
  cb_meta meta = {0};
  cb_meta_set(&meta, "epoch", "3");
  cb_meta_set(&meta, "step", "42");
  cb_meta_set(&meta, "accountant", "{\"rdp\": [[1.1, 0.01, 100], [0.9, 0.02, 7]]}");
  cb_meta_set(&meta, "rng", "{\"seed\": 18446744073709551615, \"noise_step\": 42}");
  assert_int_equal(cb_checkpoint_save(path, m, o, &meta), 0);

  cb_model *m2 = tiny(CB_ARCH_UNET, 4, 2);
  cb_optim *o2 = optim(CB_OPTIM_ADAMW, m2->n_params);
  cb_meta got = {0};
  cb_meta_set(&got, "stale", "replaced by the load");
  assert_int_equal(cb_checkpoint_load(path, m2, o2, &got), 0);
  assert_same_state(m, o, m2, o2);
  assert_int_equal(got.n, meta.n);
  for (int k = 0; k < meta.n; k++)
    assert_string_equal(cb_meta_get(&got, meta.keys[k]), meta.values[k]);

  /* PyTorch's names: parameters as they are, state under optimizer.<slot>. */
  cb_st_file f;
  assert_int_equal(cb_st_read(path, &f), 0);
  assert_int_equal(f.n, 3 * m->n_tensors);
  assert_non_null(cb_st_find(&f, "encoder1.enc1conv1.weight"));
  assert_non_null(cb_st_find(&f, "optimizer.exp_avg.encoder1.enc1conv1.weight"));
  assert_non_null(cb_st_find(&f, "optimizer.exp_avg_sq.conv.bias"));
  assert_string_equal(cb_meta_get(&f.meta, "clipbench.format"), "2");
  assert_int_equal(strlen(cb_meta_get(&f.meta, "clipbench.sha256")), 64);
  assert_non_null(strstr(cb_meta_get(&f.meta, "clipbench.model"), "\"arch\":\"unet\""));
  assert_non_null(strstr(cb_meta_get(&f.meta, "clipbench.optimizer"), "\"steps\":3"));
  cb_st_close(&f);

  /* Weights only: no optimizer given, no metadata wanted. */
  cb_model *m3 = tiny(CB_ARCH_UNET, 4, 3);
  assert_int_equal(cb_checkpoint_load(path, m3, NULL, NULL), 0);
  assert_same_state(m, NULL, m3, NULL);

  cb_meta_free(&meta);
  cb_meta_free(&got);
  cb_optim_free(o);
  cb_optim_free(o2);
  cb_model_free(m);
  cb_model_free(m2);
  cb_model_free(m3);
}

/* Save after 2 steps, then 3 more steps: uninterrupted and resumed runs end
 * bit-identical, for every optimizer (SGD's first-step momentum rule and
 * Adam's bias correction both depend on the restored step count). */
static void test_resume_is_bit_exact(void **s) {
  (void)s;
  for (int kind = CB_OPTIM_SGD; kind <= CB_OPTIM_ADAMW; kind++) {
    const char *path = tmp_path("resume.safetensors");
    cb_model *a = tiny(CB_ARCH_NESTED_UNET, 4, 5);
    cb_optim *oa = optim((cb_optim_kind)kind, a->n_params);
    steps(a, oa, 0, 2);
    assert_int_equal(cb_checkpoint_save(path, a, oa, NULL), 0);
    steps(a, oa, 2, 5);

    cb_model *b = tiny(CB_ARCH_NESTED_UNET, 4, 6);
    cb_optim *ob = optim((cb_optim_kind)kind, b->n_params);
    assert_int_equal(cb_checkpoint_load(path, b, ob, NULL), 0);
    steps(b, ob, 2, 5);
    assert_same_state(a, oa, b, ob);
    cb_optim_free(oa);
    cb_optim_free(ob);
    cb_model_free(a);
    cb_model_free(b);
  }
}

static void expect_load_error(const char *path, cb_model *m, cb_optim *o, const char *msg) {
  float *before = malloc((size_t)m->n_params * sizeof(float));
  memcpy(before, m->params, (size_t)m->n_params * sizeof(float));
  int64_t steps_before = o ? o->steps : 0;
  int rc = cb_checkpoint_load(path, m, o, NULL);
  if (rc == 0 || !strstr(cb_last_error(), msg))
    fprintf(stderr, "rc %d, message '%s', expected '%s'\n", rc, rc ? cb_last_error() : "", msg);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(cb_last_error(), msg));
  /* Nothing changed. */
  assert_memory_equal(m->params, before, (size_t)m->n_params * sizeof(float));
  if (o) assert_int_equal(o->steps, steps_before);
  free(before);
}

static void test_load_errors(void **s) {
  (void)s;
  const char *path = tmp_path("err.safetensors");
  cb_model *m = tiny(CB_ARCH_UNET, 4, 1);
  cb_optim *o = optim(CB_OPTIM_ADAMW, m->n_params);
  steps(m, o, 0, 1);
  assert_int_equal(cb_checkpoint_save(path, m, o, NULL), 0);

  cb_model *nested = tiny(CB_ARCH_NESTED_UNET, 4, 2);
  expect_load_error(path, nested, NULL, "different model");
  cb_model *wide = tiny(CB_ARCH_UNET, 8, 2);
  expect_load_error(path, wide, NULL, "has shape [4, 1, 3, 3], expected [8, 1, 3, 3]");
  cb_model *same = tiny(CB_ARCH_UNET, 4, 2);
  cb_optim *sgd = optim(CB_OPTIM_SGD, same->n_params);
  expect_load_error(path, same, sgd, "holds adamw state but the run uses sgd");

  /* Saved without an optimizer, loaded with one. */
  const char *bare = tmp_path("bare.safetensors");
  assert_int_equal(cb_checkpoint_save(bare, m, NULL, NULL), 0);
  expect_load_error(bare, same, sgd, "holds no optimizer state");

  /* A damaged file: the last byte cut off. */
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  const char *cut = tmp_path("cut.safetensors");
  f = fopen(cut, "wb");
  fwrite(buf, 1, (size_t)len - 1, f);
  fclose(f);
  free(buf);
  cb_optim *adamw = optim(CB_OPTIM_ADAMW, same->n_params);
  expect_load_error(cut, same, adamw, "runs past the end of the file");

  /* A future format. */
  float x = 0.0f;
  cb_meta fm = {0};
  cb_meta_set(&fm, "clipbench.format", "3");
  cb_st_entry e = {"x", CB_ST_F32, 0, {0}, &x};
  const char *future = tmp_path("future.safetensors");
  assert_int_equal(cb_st_write(future, &e, 1, &fm), 0);
  cb_meta_free(&fm);
  expect_load_error(future, same, NULL, "format 3");

  /* Reserved metadata keys are refused and the old file stays. */
  cb_meta bad = {0};
  cb_meta_set(&bad, "clipbench.model", "mine");
  assert_int_equal(cb_checkpoint_save(path, m, o, &bad), -1);
  assert_non_null(strstr(cb_last_error(), "reserved prefix"));
  cb_meta_free(&bad);
  assert_int_equal(cb_checkpoint_load(path, same, adamw, NULL), 0);
  assert_same_state(m, o, same, adamw);

  cb_optim_free(o);
  cb_optim_free(sgd);
  cb_optim_free(adamw);
  cb_model_free(m);
  cb_model_free(nested);
  cb_model_free(wide);
  cb_model_free(same);
}

/* A state_dict written by PyTorch (no clipbench metadata) loads as weights. */
/* Issue 16 (6): every bit of a checkpoint is covered by its checksum (a flip
 * in a weight, in optimizer state or in a metadata value is refused, the
 * model untouched), a non-finite weight is never written nor loaded, and
 * cb_checkpoint_verify tells damaged from intact. */
static void flip_bit(const char *path, long off) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  if (off < 0) {
    fseek(f, 0, SEEK_END);
    off += ftell(f);
  }
  fseek(f, off, SEEK_SET);
  int c = fgetc(f);
  fseek(f, off, SEEK_SET);
  fputc(c ^ 0x01, f);
  fclose(f);
}

static void test_checksum(void **s) {
  (void)s;
  cb_model *m = tiny(CB_ARCH_UNET, 4, 1);
  cb_optim *o = optim(CB_OPTIM_SGD, m->n_params);
  steps(m, o, 0, 2);
  cb_meta meta = {0};
  cb_meta_set(&meta, "epoch", "2");
  const char *good = tmp_path("sum.safetensors");
  assert_int_equal(cb_checkpoint_save(good, m, o, &meta), 0);
  assert_int_equal(cb_checkpoint_verify(good), 0);
  /* The last byte (optimizer state), a byte of the first weight, and the
   * metadata value "2" each flipped in a copy. */
  FILE *f = fopen(good, "rb");
  static unsigned char buf[1 << 20];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  uint64_t hl = 0;
  for (int b = 0; b < 8; b++)
    hl |= (uint64_t)buf[b] << (8 * b);
  const char *epoch_at = strstr((const char *)buf + 8, "\"epoch\":\"2\"");
  assert_non_null(epoch_at);
  long offs[3] = {-1, (long)(8 + hl + 1), (long)((const unsigned char *)epoch_at - buf) + 9};
  for (int k = 0; k < 3; k++) {
    const char *bad = tmp_path("flipped.safetensors");
    f = fopen(bad, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    flip_bit(bad, offs[k]);
    cb_model *m2 = tiny(CB_ARCH_UNET, 4, 9);
    cb_optim *o2 = optim(CB_OPTIM_SGD, m2->n_params);
    expect_load_error(bad, m2, o2, "is damaged");
    assert_int_equal(cb_checkpoint_verify(bad), -1);
    cb_optim_free(o2);
    cb_model_free(m2);
  }
  /* A truncated copy is damaged too. */
  const char *cut = tmp_path("cut2.safetensors");
  f = fopen(cut, "wb");
  fwrite(buf, 1, len / 2, f);
  fclose(f);
  assert_int_equal(cb_checkpoint_verify(cut), -1);
  assert_non_null(strstr(cb_last_error(), "damaged checkpoint"));
  /* A NaN weight is not written (the old file stays intact). */
  float nan = NAN;
  m->be->upload(m->be, m->params + 5, &nan, sizeof nan);
  assert_int_equal(cb_checkpoint_save(good, m, o, &meta), -1);
  assert_non_null(strstr(cb_last_error(), "non-finite"));
  assert_int_equal(cb_checkpoint_verify(good), 0);
  cb_meta_free(&meta);
  cb_optim_free(o);
  cb_model_free(m);
}

static void test_plain_state_dict(void **s) {
  (void)s;
  cb_model *m = tiny(CB_ARCH_UNET, 4, 1);
  cb_st_entry *e = calloc((size_t)m->n_tensors, sizeof *e);
  for (int t = 0; t < m->n_tensors; t++) {
    e[t].name = m->tensors[t].name;
    e[t].dtype = CB_ST_F32;
    e[t].ndim = m->tensors[t].ndim;
    for (int d = 0; d < e[t].ndim; d++)
      e[t].shape[d] = m->tensors[t].shape[d];
    e[t].data = m->params + m->tensors[t].offset;
  }
  const char *path = tmp_path("plain.safetensors");
  assert_int_equal(cb_st_write(path, e, m->n_tensors, NULL), 0);
  free(e);
  cb_model *m2 = tiny(CB_ARCH_UNET, 4, 2);
  assert_int_equal(cb_checkpoint_load(path, m2, NULL, NULL), 0);
  assert_same_state(m, NULL, m2, NULL);
  cb_model_free(m);
  cb_model_free(m2);
}

/* Checkpoints and probes for tests/gen/check_checkpoint.py. */
static void export_one(const char *dir, cb_arch arch, const char *name) {
  cb_model *m = tiny(arch, 4, 11);
  float *p = m->params;
  for (int t = 0; t < m->n_tensors; t++) /* GroupNorm affine away from (1, 0) */
    if (m->nodes[m->tensors[t].node].kind == CB_NODE_GN)
      tst_fill_uniform(p + m->tensors[t].offset, (size_t)m->tensors[t].numel, (uint64_t)t, 0.5f,
                       1.5f);
  cb_optim *o = optim(CB_OPTIM_ADAMW, m->n_params);
  steps(m, o, 0, 2);
  int64_t T = 16 * 16;
  tst_fill_uniform(m->input, (size_t)(2 * T), 77, 0.0f, 1.0f);
  for (int64_t j = 0; j < 2 * T; j++)
    m->labels[j] = (unsigned char)(cb_uniform(5, 5, 0, (uint64_t)j) * 3) % 3;
  cb_model_forward(m, 2);
  cb_model_loss(m, 2);
  char path[1200];
  cb_meta meta = {0};
  cb_meta_set(&meta, "epoch", "2");
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
  assert_int_equal(cb_checkpoint_save(path, m, o, &meta), 0);
  cb_st_entry probe[3] = {{"input", CB_ST_F32, 4, {2, 1, 16, 16}, m->input},
                          {"labels", CB_ST_U8, 3, {2, 16, 16}, m->labels},
                          {"loss", CB_ST_F32, 1, {2}, m->host_loss}};
  snprintf(path, sizeof path, "%s/%s.probe.safetensors", dir, name);
  assert_int_equal(cb_st_write(path, probe, 3, NULL), 0);
  cb_meta_free(&meta);
  cb_optim_free(o);
  cb_model_free(m);
}

static void test_export_for_pytorch(void **s) {
  (void)s;
  const char *dir = getenv("CB_CHECKPOINT_EXPORT");
  if (!dir) return;
  export_one(dir, CB_ARCH_UNET, "unet");
  export_one(dir, CB_ARCH_NESTED_UNET, "nested_unet");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_resume_is_bit_exact),
      cmocka_unit_test(test_load_errors),        cmocka_unit_test(test_plain_state_dict),
      cmocka_unit_test(test_export_for_pytorch), cmocka_unit_test(test_checksum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
