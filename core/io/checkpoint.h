/* Checkpoints: one safetensors file with the model's weights, the optimizer
 * state and a string map of run metadata, written atomically (temporary file
 * and rename), so a run killed at any moment resumes from the last complete
 * checkpoint, bit-exactly.
 *
 * Tensors: every parameter under the model's own tensor name (F32, PyTorch
 * layout: "encoder1.enc1conv1.weight", "conv0_1.norm2.bias", ...), and each
 * optimizer state slot as "optimizer.<slot>.<parameter name>" with
 * torch.optim's slot names (momentum_buffer; exp_avg, exp_avg_sq). In Python:
 *
 *   sd = safetensors.torch.load_file(path)
 *   model.load_state_dict({k: v for k, v in sd.items()
 *                          if not k.startswith("optimizer.")})
 *
 * Metadata: the caller's keys (epoch, step, accountant history, RNG
 * counters, adaptive clip bound: the runner decides) plus reserved keys the
 * checkpoint writes itself, all starting with "clipbench.":
 *   clipbench.format     "2" (format 1, written before checksums, still loads)
 *   clipbench.sha256     SHA-256 of every tensor byte (in file order) and of
 *                        every other metadata key and value (sorted by key):
 *                        checked on load, so a flipped bit, a truncated copy
 *                        or an edited value is refused
 *   clipbench.model      the model configuration as JSON
 *   clipbench.optimizer  the optimizer kind, hyper-parameters and step count
 *                        as JSON (only when saved with an optimizer) */
#ifndef CB_IO_CHECKPOINT_H
#define CB_IO_CHECKPOINT_H

#include "core/io/safetensors.h"
#include "core/nn/model.h"
#include "core/optim/optim.h"

#define CB_CHECKPOINT_FORMAT "2"

/* Saves m's parameters, opt's state (opt may be NULL) and meta (may be NULL;
 * keys must not start with "clipbench."). */
int cb_checkpoint_save(const char *path, const cb_model *m, const cb_optim *opt,
                       const cb_meta *meta);

/* Loads a checkpoint into m (every parameter tensor must be present with the
 * same shape), into opt when given (the file must hold state of the same
 * optimizer kind; its step count is restored) and replaces the content of
 * meta, when given (an initialised map, e.g. cb_meta md = {0}), with the
 * caller's metadata. Files without clipbench
 * metadata (e.g. a state_dict saved from PyTorch) load as weights only.
 * Nothing is modified unless everything loads. */
int cb_checkpoint_load(const char *path, cb_model *m, cb_optim *opt, cb_meta *meta);
/* Whether the file is an intact checkpoint: it parses, its checksum matches
 * (format 2) and every value is finite. -1 with cb_error saying what is
 * damaged otherwise. */
int cb_checkpoint_verify(const char *path);
/* The model configuration a checkpoint was saved from (its clipbench.model
 * metadata), and all of its metadata into meta when given. */
int cb_checkpoint_model_cfg(const char *path, cb_model_cfg *cfg, cb_meta *meta);

#endif
