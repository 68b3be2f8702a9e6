/* Checkpoints (safetensors with clipbench metadata), as `data preview
 * --checkpoint` and a resuming run read them: the input is written to a file,
 * then cb_checkpoint_model_cfg (the model it was saved from) and
 * cb_trainer_restore into a tiny trainer built once (U-Net width 2, depth 1,
 * 16x16 synthetic images, SGD with momentum, adaptive clipping, so weights,
 * optimizer state, accountant history, counters and the clip bound are all
 * read).
 *
 * A failure is one line naming the file. A restore that succeeds leaves a
 * state the runner can continue from: epochs done in [0, train.epochs], a
 * valid history, a finite positive clip bound. */
#include "core/base/error.h"
#include "core/dp/dp.h"
#include "core/io/checkpoint.h"
#include "experiments/config.h"
#include "experiments/trainer.h"
#include "tests/fuzz/fuzz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz_checkpoint.safetensors"

static const char *const EXPERIMENT = "name: fuzz\n"
                                      "seed: 1\n"
                                      "backend: cpu\n"
                                      "threads: 1\n"
                                      "data: {size: [16, 16], count: 6}\n"
                                      "model: {width: 2, depth: 1, groups: 1}\n"
                                      "train: {epochs: 3, batch_size: 2, momentum: 0.9}\n"
                                      "dp: {clipping: adaptive, noise_multiplier: 1.0, "
                                      "accountants: [rdp]}\n";

static cb_experiment g_exp;
static cb_trainer g_tr;

cb_trainer *cb_fuzz_checkpoint_trainer(void) {
  static int ready;
  if (!ready) {
    char id[CB_RUN_ID_LEN + 1];
    cb_exp_init(&g_exp);
    if (cb_exp_load_string(&g_exp, EXPERIMENT, "fuzz trainer") || cb_exp_resolve(&g_exp) ||
        cb_exp_id(&g_exp, id) || cb_trainer_setup(&g_tr, &g_exp, id)) {
      fprintf(stderr, "fuzz_checkpoint: cannot build the trainer: %s\n", cb_last_error());
      abort();
    }
    ready = 1;
  }
  return &g_tr;
}

int cb_fuzz_checkpoint(const uint8_t *data, size_t size) {
  cb_trainer *t = cb_fuzz_checkpoint_trainer();
  char path[1024];
  cb_fuzz_path(path, sizeof path, NAME);
  cb_fuzz_write(path, data, size);

  cb_model_cfg cfg;
  cb_meta md = {0};
  cb_error_clear();
  if (cb_checkpoint_model_cfg(path, &cfg, &md))
    cb_fuzz_check_error("cb_checkpoint_model_cfg", NAME);
  else if (cb_model_cfg_validate(&cfg) == 0)
    CB_FUZZ_CHECK(cfg.width >= 1 && cfg.depth >= 1 && cfg.classes >= 2, "model config");
  cb_meta_free(&md);

  cb_error_clear();
  if (cb_trainer_restore(t, path)) {
    cb_fuzz_check_error("cb_trainer_restore", NAME);
    return 0;
  }
  cb_fuzz_accepted("cb_trainer_restore");
  CB_FUZZ_CHECK(t->epochs_done >= 0 && t->epochs_done <= t->e->train.epochs,
                "restored %d epochs done of %d", t->epochs_done, t->e->train.epochs);
  double c = cb_dp_clip_bound(t->dp);
  CB_FUZZ_CHECK(isfinite(c) && c > 0, "restored clip bound %g", c);
  for (int i = 0; i < t->hist.n; i++)
    CB_FUZZ_CHECK(t->hist.seg[i].steps > 0 && t->hist.seg[i].q >= 0 && t->hist.seg[i].q <= 1,
                  "restored history segment %d", i);
  return 0;
}

CB_FUZZ_ENTRY(checkpoint)
