#ifndef CB_CLI_PREDICT_H
#define CB_CLI_PREDICT_H

#include "core/data/dataset.h"

#include <stdint.h>

/* Argmax predictions of the checkpoint's model (rebuilt from its metadata)
 * for images idx[0..n) of d, into preds[n][H][W] (host memory; CPU backend).
 * Images are normalised with the checkpoint's recorded training statistics. */
int cb_predict_with_checkpoint(const char *ckpt, const cb_dataset *d, const int *idx, int n,
                               uint8_t *preds);

#endif
