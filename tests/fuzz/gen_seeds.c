/* fuzz_gen_seeds DIR: writes the seeds that need our writers or libmatio
 * into DIR/<target>/ (DIR = tests/fuzz/corpus): checkpoints of the fuzz
 * trainer (valid, and some corruptions), small safetensors files of every
 * dtype, and Duke-shaped .mat files (uncompressed, compressed, double images,
 * a missing variable). Deterministic; run it when a format changes
 * and commit the result. The text seeds (YAML, JSON, histories, .npy from
 * numpy) are files under corpus/ written by hand or copied from the
 * shipped files and fixtures. */
#include "core/base/error.h"
#include "core/io/checkpoint.h"
#include "core/io/safetensors.h"
#include "experiments/trainer.h"
#include "tests/fuzz/fuzz.h"

#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cb_trainer *cb_fuzz_checkpoint_trainer(void);

static const char *g_dir;

static const char *out(const char *target, const char *name) {
  static char p[2048];
  snprintf(p, sizeof p, "%s/%s", g_dir, target);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/%s/%s", g_dir, target, name);
  return p;
}

static void die(const char *what) {
  fprintf(stderr, "fuzz_gen_seeds: %s: %s\n", what, cb_last_error());
  exit(1);
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  unsigned char *b = malloc(*len + 1);
  if (!b || fread(b, 1, *len, f) != *len) die(path);
  fclose(f);
  return b;
}

static void spit(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f)) die(path);
}

/* A copy of src with one metadata value replaced (the header is rewritten,
 * so the file stays well-formed). */
static void with_meta(const char *src, const char *dst, const char *key, const char *value) {
  cb_st_file f;
  if (cb_st_read(src, &f)) die(src);
  cb_st_entry *e = calloc((size_t)f.n, sizeof *e);
  for (int k = 0; k < f.n; k++) {
    e[k].name = f.t[k].name;
    e[k].dtype = f.t[k].dtype;
    e[k].ndim = f.t[k].ndim;
    memcpy(e[k].shape, f.t[k].shape, sizeof e[k].shape);
    e[k].data = f.t[k].data;
  }
  if (cb_meta_set(&f.meta, key, value) || cb_st_write(dst, e, f.n, &f.meta)) die(dst);
  free(e);
  cb_st_close(&f);
}

static void checkpoints(void) {
  cb_trainer *t = cb_fuzz_checkpoint_trainer();
  cb_epoch_stats st;
  if (cb_trainer_epoch(t, &st, NULL, NULL)) die("training an epoch");
  t->epochs_done = 1;
  const char *valid = strdup(out("checkpoint", "valid_epoch1.safetensors"));
  if (cb_trainer_save(t, valid)) die(valid);
  /* (Seeds that found bugs moved to regressions/checkpoint: bad epoch, step,
   * clip bound and history.) */
  with_meta(valid, out("checkpoint", "other_run.safetensors"), "run_id", "0123456789abcdef");
  with_meta(valid, out("checkpoint", "bad_model.safetensors"), "clipbench.model",
            "{\"arch\":\"unet\",\"width\":99999999999}");
  with_meta(valid, out("checkpoint", "bad_optimizer.safetensors"), "clipbench.optimizer",
            "{\"kind\":\"adam\",\"steps\":1}");
  /* Weights only, as from PyTorch. */
  if (cb_checkpoint_save(out("checkpoint", "weights_only.safetensors"), t->m, NULL, NULL))
    die("weights only");
  size_t len;
  unsigned char *b = slurp(valid, &len);
  spit(out("checkpoint", "truncated.safetensors"), b, len / 2);
  free(b);
}

static void safetensors(void) {
  float f32[6] = {1, -2, 3.5f, INFINITY, NAN, 0};
  double f64[3] = {1e-300, -0.0, 2};
  int64_t i64[2] = {-1, 1LL << 40};
  int32_t i32[2] = {7, -7};
  unsigned char u8[5] = {0, 1, 2, 254, 255};
  cb_st_entry e[5] = {
      {"w", CB_ST_F32, 2, {2, 3}, f32},  {"b", CB_ST_F64, 1, {3}, f64},
      {"i", CB_ST_I64, 1, {2}, i64},     {"j", CB_ST_I32, 2, {1, 2}, i32},
      {"u", CB_ST_U8, 3, {1, 5, 1}, u8},
  };
  cb_meta m = {0};
  cb_meta_set(&m, "format", "pt");
  cb_meta_set(&m, "note", "\"quoted\" \\ \xc3\xa9 \t tab");
  if (cb_st_write(out("safetensors", "all_dtypes.safetensors"), e, 5, &m)) die("all dtypes");
  if (cb_st_write(out("safetensors", "one_f32.safetensors"), e, 1, NULL)) die("one");
  cb_st_entry empty = {"empty", CB_ST_F32, 2, {0, 4}, f32};
  if (cb_st_write(out("safetensors", "empty_tensor.safetensors"), &empty, 1, NULL)) die("empty");
  if (cb_st_write(out("safetensors", "no_tensors.safetensors"), NULL, 0, &m)) die("none");
  cb_meta_free(&m);
}

/* Duke-shaped variables: images HI x WI x NS, layers 8 x WI x NS, fluid. */
enum { HI = 10, WI = 6, NS = 2 };

static void var(mat_t *m, const char *name, enum matio_classes c, enum matio_types t, size_t d0,
                size_t d1, size_t d2, void *data, int compress) {
  size_t dims[3] = {d0, d1, d2};
  matvar_t *v = Mat_VarCreate(name, c, t, d2 ? 3 : 2, dims, data, 0);
  if (!v || Mat_VarWrite(m, v, compress ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE)) die(name);
  Mat_VarFree(v);
}

static void duke_file(const char *name, int compress, int double_images, int skip_fluid, int ns) {
  mat_t *m = Mat_CreateVer(out("duke", name), NULL, MAT_FT_MAT5);
  if (!m) die(name);
  uint8_t img[HI * WI * NS];
  double dimg[HI * WI * NS], lay[8 * WI * NS], fl[HI * WI * NS];
  for (int i = 0; i < HI * WI * NS; i++) {
    img[i] = (uint8_t)(i * 37 % 251);
    dimg[i] = img[i];
    fl[i] = (i % 17 == 0) ? 1.0 : (i % 23 == 0 ? NAN : 0.0);
  }
  for (int s = 0; s < NS; s++)
    for (int x = 0; x < WI; x++)
      for (int k = 0; k < 8; k++)
        lay[k + 8 * (x + WI * s)] =
            s == 0 || x == 0 || (k == 3 && x == 2) ? NAN : 1.0 + k + 0.3 * x;
  size_t d2 = ns == 1 ? 0 : NS;
  if (double_images)
    var(m, "images", MAT_C_DOUBLE, MAT_T_DOUBLE, HI, WI, d2, dimg, compress);
  else
    var(m, "images", MAT_C_UINT8, MAT_T_UINT8, HI, WI, d2, img, compress);
  var(m, "manualLayers1", MAT_C_DOUBLE, MAT_T_DOUBLE, 8, WI, d2, lay, compress);
  if (!skip_fluid) var(m, "manualFluid1", MAT_C_DOUBLE, MAT_T_DOUBLE, HI, WI, d2, fl, compress);
  Mat_Close(m);
}

static void duke(void) {
  duke_file("plain.mat", 0, 0, 0, NS);
  duke_file("compressed.mat", 1, 0, 0, NS);
  duke_file("double_images.mat", 0, 1, 0, NS);
  duke_file("no_fluid.mat", 0, 0, 1, NS);
  /* (A truncated copy found a bug: regressions/duke/reject_truncated_*.) */
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_gen_seeds tests/fuzz/corpus\n");
    return 2;
  }
  g_dir = argv[1];
  checkpoints();
  safetensors();
  duke();
  return 0;
}
