/* The engine's state, shared by the files of core/dp (not a public API). */
#ifndef CB_DP_ENGINE_INTERNAL_H
#define CB_DP_ENGINE_INTERNAL_H

#include "core/dp/dp.h"

struct cb_dp {
  cb_model *m;
  cb_dp_cfg cfg;
  /* plan */
  int n_groups;
  double *group_bound; /* C_k */
  int *tensor_group;   /* tensor -> group */
  int *node_ghost;     /* -1 no params / norms off, 0 materialise, 1 ghost */
  float **node_psg;    /* materialised nodes: rows [n x p_numel] */
  int streaming;       /* groups are layer-local: clip layer by layer */
  float *psg, *ghost_scratch;
  size_t bytes;
  /* random sparsification */
  unsigned char *keep_host, *keep_dev;
  uint32_t *perm;
  int mask_period;
  double mask_rate;
  /* adaptive */
  double clip_bound, count_std, sigma_delta;
  /* per-chunk host arrays */
  double *tsq;   /* [n][n_tensors] squared norms */
  double *gsq;   /* [n][n_groups] */
  double *total; /* [n] total norm */
  float *coef;   /* [n][n_tensors] */
  float *cw, *cb;
  double *ghost_w, *ghost_b;
  int *flags;
  /* step */
  cb_dp_step_info info;
  int step_n, step_clipped;
  double step_unclipped, step_loss;
  double *step_norms;
  int step_cap;
  /* epoch */
  double *ep_norms;
  int ep_n, ep_cap, ep_clipped;
  double *ep_layer; /* [n_nodes][ep_cap] per-layer per-sample norms */
  /* Gradient canaries of a privacy audit (canary.c): a Dirac gradient of
   * value canary_value[k] at parameter canary_coord[k]. */
  int n_canaries;
  int64_t *canary_coord;
  float *canary_value;
  int *canary_tensor;
  double step_canaries; /* canaries added to the current step */
  /* Test-only fault injection: the parameterised node whose gradient is
   * summed unclipped and left out of its group's norm (-1: none). Only
   * tests set it, through cb_dp_test_fault_unclip; no config reaches it. */
  int fault_unclipped_node;
};

/* Clipping factor of a gradient (group) of norm g against bound C under the
 * configured mode; shared by real samples and gradient canaries. */
double cb_dp_clip_factor(const cb_dp_cfg *c, double g, double C);

/* Whether tensor t escapes clipping through the test-only fault. */
static inline int cb_dp_tensor_faulted(const cb_dp *dp, int t) {
  return dp->fault_unclipped_node >= 0 && dp->m->tensors[t].node == dp->fault_unclipped_node;
}

/* Test-only: removes parameterised node `node` from clipping (its per-sample
 * gradient is summed with coefficient 1 and its norm counts towards no
 * group), the bug a privacy audit must catch. -1 repairs it. */
void cb_dp_test_fault_unclip(cb_dp *dp, int node);

/* Appends the n samples of the current chunk to the step and epoch stats. */
int cb_dp_stats_add(cb_dp *dp, int n, const int *clipped);

#endif
