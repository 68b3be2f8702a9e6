/* Privacy audit in one training run (Steinke, Nasr and Jagielski, NeurIPS
 * 2023) wired into the trainer: m canaries, each included independently with
 * probability 1/2 (Philox stream CANARY, keyed by the run's seed, so the
 * draw is recorded by the seed and repeats on resume), trained as
 * configured, then scored, guessed and turned into an epsilon lower bound
 * (core/privacy/audit_bound.h).
 *
 *   gradient  canary k is a crafted per-sample gradient: value +-100 C at one
 *             parameter coordinate (canaries spread round-robin over the
 *             parameterised layers, so every layer holds its share). An
 *             included canary joins each logical step with probability q,
 *             like a training image, and the DP engine clips it, sums it and
 *             noises the sum exactly as a real sample's gradient
 *             (cb_dp_add_canaries). Score: the alignment of the total
 *             privatised update with the canary, sum over steps of the noisy
 *             gradient at its coordinate times its sign.
 *   input     canary k is an image of the data's size with a unique random
 *             block pattern and a random block label map; included ones join
 *             the training set (Poisson-sampled with the same q). Score: the
 *             loss difference, loss under the initial weights minus loss
 *             under the final weights.
 *
 * Canaries change neither q, sigma, the number of steps nor the divisor
 * of the noisy sum (q N of the real training set), so the run's accountant
 * epsilon is the one the audit is compared against. The `guesses` canaries
 * with the highest scores are guessed included; the bound uses the run's
 * dp.delta. */
#ifndef CB_EXPERIMENTS_AUDIT_H
#define CB_EXPERIMENTS_AUDIT_H

#include "results/store.h"

#include <stdint.h>

typedef struct {
  int kind, m; /* CB_AUDIT_*, canaries (0: no audit) */
  unsigned char *in, *guessed;
  int n_in;
  double *score;
  /* gradient canaries */
  int64_t *coord;
  float *value;
  int *which;
  float *grads; /* host copy of one step's privatised gradient */
  /* input canaries: data.images index of canary 0 */
  int data_base;
  int *train_idx; /* real training images then included canaries */
  double seconds; /* time spent on canaries and scoring */
} cb_audit_state;

/* The result is a results row: cb_audit_row (results/store.h). */

/* The functions taking the trainer are declared in experiments/trainer.h. */
void cb_audit_free(cb_audit_state *a);

#endif
