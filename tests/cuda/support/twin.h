/* The same model on the CPU and on the device under test, fed the same
 * parameters and data, so every buffer can be compared (tests/cuda). */
#ifndef CB_TESTS_CUDA_TWIN_H
#define CB_TESTS_CUDA_TWIN_H

#include "core/nn/model.h"

typedef struct {
  cb_model *cpu, *dev;
  int n;                 /* images in the current batch */
  float *x;              /* host images [max_batch, Cin, H, W] */
  unsigned char *labels; /* host labels [max_batch, H, W] */
} tw_model;

typedef void (*tw_build_fn)(cb_model *m);

/* A hand-built graph (cb_model_create_graph + build) on both backends. */
tw_model tw_graph(int cin, int H, int W, int classes, tw_build_fn build, int max_batch);
/* An architecture on both backends. */
tw_model tw_arch(const cb_model_cfg *cfg, int H, int W, int max_batch);
void tw_free(tw_model *t);

/* Random parameters (GroupNorm weights in [0.5, 1.5], the rest in [-1, 1])
 * uploaded to both; or the PyTorch-default initialisation on both. */
void tw_random_params(tw_model *t, uint64_t seed);
void tw_init_params(tw_model *t, uint64_t seed);
/* Random images in [-1, 1] and labels for n images, uploaded to both. */
void tw_data(tw_model *t, int n, uint64_t seed);

/* forward + loss on both; host losses compared (ulps of the softmax). */
void tw_forward_loss(tw_model *t);
/* Every node's output (and, after a backward, gradient) compared. */
void tw_compare_outputs(const tw_model *t, double tol);
void tw_compare_gradients(const tw_model *t, double tol);

/* A device buffer of n floats of t->dev against the CPU twin's buffer at the
 * same offset (both from the same layout). */
void tw_compare_dev(const char *what, const float *dev, const float *cpu, int64_t n, double tol);

#endif
