/* The experiment schema: every key, its default, accepted values, when it
 * applies and what it means. This table is the single source of truth for
 * defaults; --print-config, --schema, the loader and the run id all read it.
 * Defaults follow the seed study (U-Net, batch 10, SGD lr 5e-4, weight decay
 * 1e-4, 100 epochs, 224x224, delta 1e-5, clip bound 1, PRV accountant,
 * per-tensor thresholds) except the data source, which is synthetic so that
 * everything runs with no download. */
#include "experiments/config_schema.h"

#include "core/data/dataset.h"
#include "core/privacy/accountant.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const CB_EXP_BACKEND_NAMES[] = {"auto", "cpu", "cuda", NULL};
const char *const CB_DATA_SOURCE_NAMES[] = {"synthetic", "duke_npy", "npy", NULL};
const char *const CB_SPLIT_BY_NAMES[] = {"subject", "fraction", "folders", NULL};
const char *const CB_NORMALISE_NAMES[] = {"zscore", "unit", "none", "fixed", NULL};
const char *const CB_DICE_NAMES[] = {"pooled", "per_image", NULL};
const char *const CB_SAMPLING_NAMES[] = {"poisson", "shuffle", NULL};
const char *const CB_OPTIMIZER_NAMES[] = {"sgd", "adam", "adamw", NULL};
const char *const CB_LR_SCHEDULE_NAMES[] = {"constant", "step", "cosine", NULL};
const char *const CB_CLIPPING_NAMES[] = {
    "none", "flat", "per_layer", "automatic", "random_sparsification", "adaptive", NULL};
const char *const CB_THRESHOLDS_NAMES[] = {"same", "equal_split", NULL};
const char *const CB_ACCOUNTANT_NAMES[] = {"rdp", "prv", "gdp", "pld", NULL};
const char *const CB_AUTO_VARIANT_NAMES[] = {"auto_s", "auto_v", NULL};
const char *const CB_AUTO_SCOPE_NAMES[] = {"all", "per_layer", NULL};
const char *const CB_EVAL_SPLIT_NAMES[] = {"val", "test", NULL};
const char *const CB_AUDIT_KIND_NAMES[] = {"gradient", "input", NULL};
const char *const CB_LOSS_REDUCTION_NAMES[] = {"image", "batch", NULL};
static const char *const BOOL_NAMES[] = {"false", "true", NULL};

_Static_assert(sizeof(cb_arch) == sizeof(int), "model.arch is stored as an int");

/* When keys apply. */
static int private_(const cb_experiment *e) {
  return e->dp.clipping != CB_CLIP_NONE;
}
static int not_synthetic(const cb_experiment *e) {
  return e->data.source != CB_DATA_SYNTHETIC;
}
static int synthetic(const cb_experiment *e) {
  return e->data.source == CB_DATA_SYNTHETIC;
}
static int by_subject(const cb_experiment *e) {
  return e->data.split.by == CB_SPLIT_SUBJECT;
}
static int by_fraction(const cb_experiment *e) {
  return e->data.split.by == CB_SPLIT_FRACTION;
}
static int fixed_norm(const cb_experiment *e) {
  return e->data.normalise == CB_NORMALISE_FIXED;
}
static int sgd(const cb_experiment *e) {
  return e->train.optimizer == CB_OPT_SGD;
}
static int adam(const cb_experiment *e) {
  return e->train.optimizer == CB_OPT_ADAM || e->train.optimizer == CB_OPT_ADAMW;
}
static int step_lr(const cb_experiment *e) {
  return e->train.lr_schedule.kind == CB_LRS_STEP;
}
static int per_layer_thresholds(const cb_experiment *e) {
  return e->dp.clipping == CB_CLIP_PER_LAYER ||
         (e->dp.clipping == CB_CLIP_AUTOMATIC && e->dp.automatic.scope == CB_SCOPE_PER_LAYER);
}
static int automatic(const cb_experiment *e) {
  return e->dp.clipping == CB_CLIP_AUTOMATIC;
}
static int automatic_s(const cb_experiment *e) {
  return e->dp.clipping == CB_CLIP_AUTOMATIC && e->dp.automatic.variant == CB_AUTO_S;
}
static int sparsified(const cb_experiment *e) {
  return e->dp.clipping == CB_CLIP_RANDOM_SPARSIFICATION;
}
static int batch_loss(const cb_experiment *e) {
  return e->loss.reduction == CB_LOSS_REDUCTION_BATCH;
}
static int adaptive(const cb_experiment *e) {
  return e->dp.clipping == CB_CLIP_ADAPTIVE;
}
static int audited(const cb_experiment *e) {
  return e->audit.canaries > 0;
}

#define OFF(m) offsetof(cb_experiment, m)
#define BIG 1e300
/* Largest clip bound and noise multiplier accepted: far beyond any useful
 * value, and small enough that sigma * C and the clipped sums stay finite in
 * float32 (1e200 would overflow to inf and fail mid-run as a divergence). */
#define MAX_CLIP_BOUND 1e6
#define MAX_NOISE_MULTIPLIER 1e4
#define IMAX 2147483647.0
#define I64MAX 9223372036854775807.0

/* Shorthands for rows; designated initialisers keep the table readable. */
#define F(k, t, o) .key = k, .type = t, .off = OFF(o)
#define ENUM_(k, o, names) F(k, CB_FT_ENUM, o), .choices = names
#define LIST(n, a, b) .off_n = OFF(n), .min_n = a, .max_n = b

const cb_field CB_FIELDS[] = {
    {F("name", CB_FT_STR, name), .cap = sizeof(((cb_experiment *)0)->name), .flags = CB_F_VOLATILE,
     .def = "\"experiment\"",
     .doc = "label shown in tables (a file's default is its name without .yaml)"},
    {F("seed", CB_FT_I64, seed), .lo = 0, .hi = I64MAX, .def = "0",
     .doc = "seeds initialisation, sampling, noise and synthetic data"},
    {ENUM_("backend", backend, CB_EXP_BACKEND_NAMES), .flags = CB_F_VOLATILE, .def = "auto",
     .doc = "compute backend; auto = cuda when a GPU is present, else cpu"},
    {F("threads", CB_FT_INT, threads), .lo = 0, .hi = 4096, .flags = CB_F_VOLATILE, .def = "0",
     .doc = "CPU threads; 0 = the runner decides (all cores, or its share)"},

    {ENUM_("data.source", data.source, CB_DATA_SOURCE_NAMES), .def = "synthetic",
     .doc = "synthetic OCT generator, Duke DME as NPY folders, or any NPY folder"},
    {F("data.path", CB_FT_STR, data.path), .cap = CB_EXP_STR_MAX, .def = "\"\"",
     .applies = not_synthetic, .when = "data.source is not synthetic",
     .doc = "folder with images/*.npy and masks/*.npy, or with train/ val/ test/ folders of "
            "them (part of the run id)"},
    {F("data.size", CB_FT_INTS, data.size), LIST(data.n_size, 2, 2), .lo = 8, .hi = 8192,
     .def = "[224, 224]", .doc = "image size [H, W] the data is resized to"},
    {F("data.classes", CB_FT_INT, model.classes), .lo = 2, .hi = 64, .def = "9",
     .doc = "segmentation classes (Duke: 9 = background, 7 layers, fluid)"},
    {F("data.count", CB_FT_INT, data.count), .lo = 3, .hi = 1000000, .def = "110",
     .applies = synthetic, .when = "data.source is synthetic",
     .doc = "number of synthetic images (Duke has 110 annotated B-scans)"},
    {ENUM_("data.split.by", data.split.by, CB_SPLIT_BY_NAMES), .flags = CB_F_AUTO, .def = "auto",
     .doc = "split by subject lists, random fractions, or the data's train/ val/ test/ folders; "
            "auto = folders when data.path has a train/ folder, else subject for duke_npy, "
            "else fraction"},
    {F("data.split.train", CB_FT_INTS, data.split.train.v),
     LIST(data.split.train.n, 1, CB_EXP_SUBJECTS_MAX), .lo = 0, .hi = IMAX,
     .def = "[1, 2, 3, 4, 5, 6]", .applies = by_subject, .when = "data.split.by is subject",
     .doc = "training subjects"},
    {F("data.split.val", CB_FT_INTS, data.split.val.v),
     LIST(data.split.val.n, 0, CB_EXP_SUBJECTS_MAX), .lo = 0, .hi = IMAX, .def = "[7, 8]",
     .applies = by_subject, .when = "data.split.by is subject", .doc = "validation subjects"},
    {F("data.split.test", CB_FT_INTS, data.split.test.v),
     LIST(data.split.test.n, 0, CB_EXP_SUBJECTS_MAX), .lo = 0, .hi = IMAX, .def = "[9, 10]",
     .applies = by_subject, .when = "data.split.by is subject", .doc = "test subjects"},
    {F("data.split.fractions", CB_FT_NUMS, data.split.fractions),
     LIST(data.split.n_fractions, 3, 3), .lo = 0, .hi = 1, .def = "[0.6, 0.2, 0.2]",
     .applies = by_fraction, .when = "data.split.by is fraction",
     .doc = "[train, val, test] fractions of the images, summing to 1"},
    {F("data.split.seed", CB_FT_I64, data.split.seed), .lo = 0, .hi = I64MAX, .def = "0",
     .applies = by_fraction, .when = "data.split.by is fraction",
     .doc = "seed of the random split (fixed, so every seed of a sweep sees the same split)"},
    {ENUM_("data.normalise", data.normalise, CB_NORMALISE_NAMES), .def = "zscore",
     .doc = "zscore with the training split's mean and std, unit = [0,1], none, or fixed = "
            "zscore with data.normalise_mean/std (the study's published constants)"},
    {F("data.normalise_mean", CB_FT_NUM, data.normalise_mean), .lo = -1e9, .hi = 1e9,
     .def = "46.3758", .applies = fixed_norm, .when = "data.normalise is fixed",
     .doc = "mean subtracted by data.normalise: fixed (the study's Duke constant)"},
    {F("data.normalise_std", CB_FT_NUM, data.normalise_std), .lo = 0, .hi = BIG,
     .flags = CB_F_LO_OPEN, .def = "53.9434", .applies = fixed_norm,
     .when = "data.normalise is fixed",
     .doc = "standard deviation divided by data.normalise: fixed (the study's Duke constant)"},
    {F("data.label_map", CB_FT_STR, data.label_map), .cap = CB_EXP_STR_MAX, .def = "\"none\"",
     .flags = CB_F_ID_UNLESS_DEFAULT, .applies = not_synthetic,
     .when = "data.source is not synthetic",
     .doc = "stored mask ids -> classes, applied before resizing: none, duke_10_to_9 (the "
            "study's published masks: 8 below RPE -> 0, 9 fluid -> 8) or pairs like \"8:0,9:8\""},
    {ENUM_("data.mask_resize", data.mask_resize, CB_MASK_RESIZE_NAMES), .def = "nearest",
     .flags = CB_F_ID_UNLESS_DEFAULT, .applies = not_synthetic,
     .when = "data.source is not synthetic",
     .doc = "masks resized by nearest neighbour, or bilinear_round = the study's torchvision "
            "resize of the label image then rounding (invents labels at class boundaries)"},

    {ENUM_("model.arch", model.arch, CB_ARCH_NAMES), .def = "unet",
     .doc = "U-Net or Nested U-Net (UNet++ without deep supervision)"},
    {F("model.width", CB_FT_INT, model.width), .lo = 1, .hi = 1024, .def = "32",
     .doc = "channels of the first level (doubling per level)"},
    {F("model.depth", CB_FT_INT, model.depth), .lo = 1, .hi = 6, .def = "4",
     .doc = "number of 2x down-samplings"},
    {F("model.groups", CB_FT_INT, model.groups), .lo = 1, .hi = 1024, .flags = CB_F_AUTO,
     .def = "auto",
     .doc = "GroupNorm groups (gcd with each layer's channels); auto = unet 32, "
            "nested_unet 8"},
    {ENUM_("model.up", model.up, CB_UP_NAMES), .flags = CB_F_AUTO, .def = "auto",
     .doc = "up-sampling; auto = unet transpose, nested_unet bilinear"},
    {F("model.bias", CB_FT_BOOL, model.bias), .choices = BOOL_NAMES, .flags = CB_F_AUTO,
     .def = "auto", .doc = "bias on the 3x3 convolutions; auto = unet false, nested_unet true"},
    {F("model.in_channels", CB_FT_INT, model.in_channels), .lo = 1, .hi = 64, .def = "1",
     .doc = "input channels"},

    {F("loss.ce_weight", CB_FT_NUM, loss.ce_weight), .lo = 0, .hi = BIG, .def = "1",
     .doc = "weight of the per-image pixel cross-entropy"},
    {F("loss.dice_weight", CB_FT_NUM, loss.dice_weight), .lo = 0, .hi = BIG, .def = "1",
     .doc = "weight of the per-image soft Dice loss"},
    {F("loss.dice_smooth", CB_FT_NUM, loss.dice_smooth), .lo = 0, .hi = BIG, .def = "1",
     .doc = "smoothing term of the soft Dice loss"},
    {ENUM_("loss.reduction", loss.reduction, CB_LOSS_REDUCTION_NAMES),
     .flags = CB_F_ID_UNLESS_DEFAULT, .def = "image",
     .doc = "image = each image's own CE + Dice (per-sample clipping is sound); batch = the "
            "study's CombinedLoss: CE over the batch's pixels + Dice summed over the batch on "
            "exp(softmax), smoothing only in the denominator (set loss.dice_smooth: 1e-4); "
            "couples the images of a batch, so a private run is not a DP guarantee"},
    {F("loss.softmax_input", CB_FT_BOOL, loss.softmax_input), .choices = BOOL_NAMES,
     .flags = CB_F_AUTO, .def = "auto", .applies = batch_loss, .when = "loss.reduction is batch",
     .doc = "the batch loss sees softmax(logits), as the study's U-Net output (Softmax2d); "
            "auto = unet true, nested_unet false (the study's Nested U-Net ends in logits)"},

    {F("train.epochs", CB_FT_INT, train.epochs), .lo = 1, .hi = 1000000, .def = "100",
     .doc = "training epochs (also the horizon of dp.target_epsilon)"},
    {F("train.batch_size", CB_FT_INT, train.batch_size), .lo = 1, .hi = 1000000, .def = "10",
     .doc = "expected logical batch size (Poisson: q = batch_size / training images)"},
    {ENUM_("train.sampling", train.sampling, CB_SAMPLING_NAMES), .def = "poisson",
     .doc = "Poisson sampling (what the accountants assume) or shuffled fixed batches"},
    {F("train.max_physical_batch", CB_FT_INT, train.max_physical_batch), .lo = 1, .hi = 1000000,
     .flags = CB_F_AUTO | CB_F_VOLATILE, .def = "auto",
     .doc = "largest chunk processed at once (memory knob); auto = batch_size"},
    {ENUM_("train.optimizer", train.optimizer, CB_OPTIMIZER_NAMES), .def = "sgd",
     .doc = "optimizer"},
    {F("train.lr", CB_FT_NUM, train.lr), .lo = 0, .hi = BIG, .flags = CB_F_LO_OPEN, .def = "0.0005",
     .doc = "learning rate"},
    {F("train.momentum", CB_FT_NUM, train.momentum), .lo = 0, .hi = 1, .flags = CB_F_HI_OPEN,
     .def = "0", .applies = sgd, .when = "train.optimizer is sgd", .doc = "SGD momentum"},
    {F("train.nesterov", CB_FT_BOOL, train.nesterov), .choices = BOOL_NAMES, .def = "false",
     .applies = sgd, .when = "train.optimizer is sgd", .doc = "Nesterov momentum"},
    {F("train.weight_decay", CB_FT_NUM, train.weight_decay), .lo = 0, .hi = BIG, .def = "0.0001",
     .doc = "L2 weight decay (decoupled for adamw), a data-independent term"},
    {F("train.betas", CB_FT_NUMS, train.betas), LIST(train.n_betas, 2, 2), .lo = 0, .hi = 1,
     .flags = CB_F_HI_OPEN, .def = "[0.9, 0.999]", .applies = adam,
     .when = "train.optimizer is adam or adamw", .doc = "Adam betas"},
    {F("train.eps", CB_FT_NUM, train.eps), .lo = 0, .hi = 1, .flags = CB_F_LO_OPEN, .def = "1e-08",
     .applies = adam, .when = "train.optimizer is adam or adamw", .doc = "Adam epsilon"},
    {ENUM_("train.lr_schedule.kind", train.lr_schedule.kind, CB_LR_SCHEDULE_NAMES),
     .def = "constant", .doc = "learning-rate schedule over epochs"},
    {F("train.lr_schedule.step_size", CB_FT_INT, train.lr_schedule.step_size), .lo = 1,
     .hi = 1000000, .def = "30", .applies = step_lr, .when = "train.lr_schedule.kind is step",
     .doc = "epochs between decays"},
    {F("train.lr_schedule.gamma", CB_FT_NUM, train.lr_schedule.gamma), .lo = 0, .hi = 1,
     .flags = CB_F_LO_OPEN, .def = "0.1", .applies = step_lr,
     .when = "train.lr_schedule.kind is step", .doc = "decay factor"},
    {F("train.lr_schedule.warmup", CB_FT_INT, train.lr_schedule.warmup), .lo = 0, .hi = 1000000,
     .def = "0", .doc = "epochs of linear warm-up before the schedule"},

    {ENUM_("dp.clipping", dp.clipping, CB_CLIPPING_NAMES), .def = "none",
     .doc = "per-sample clipping mode; none = non-private training"},
    {F("dp.clip_bound", CB_FT_NUM, dp.clip_bound), .lo = 0, .hi = MAX_CLIP_BOUND,
     .flags = CB_F_LO_OPEN, .def = "1", .applies = private_, .when = "dp.clipping is not none",
     .doc = "clip bound C (R for automatic; the initial bound for adaptive)"},
    {ENUM_("dp.per_layer.thresholds", dp.per_layer.thresholds, CB_THRESHOLDS_NAMES), .def = "same",
     .applies = per_layer_thresholds,
     .when = "dp.clipping is per_layer, or automatic with dp.automatic.scope per_layer",
     .doc = "per tensor: same = C each (Opacus; noise std sigma*C*sqrt(K)), equal_split = "
            "C/sqrt(K) each (noise std sigma*C)"},
    {ENUM_("dp.per_layer.group_by", dp.per_layer.group_by, CB_GROUP_BY_NAMES), .def = "tensor",
     .applies = per_layer_thresholds,
     .when = "dp.clipping is per_layer, or automatic with dp.automatic.scope per_layer",
     .doc = "one threshold per parameter tensor (Opacus) or per layer (weight and bias together)"},
    {F("dp.noise_multiplier", CB_FT_NUM, dp.noise_multiplier), .lo = 0, .hi = MAX_NOISE_MULTIPLIER,
     .flags = CB_F_NULL, .def = "null", .applies = private_, .when = "dp.clipping is not none",
     .doc = "sigma; set this or dp.target_epsilon"},
    {F("dp.target_epsilon", CB_FT_NUM, dp.target_epsilon), .lo = 0, .hi = BIG,
     .flags = CB_F_NULL | CB_F_LO_OPEN, .def = "null", .applies = private_,
     .when = "dp.clipping is not none",
     .doc = "calibrate sigma so that train.epochs end at this epsilon (primary accountant)"},
    {F("dp.delta", CB_FT_NUM, dp.delta), .lo = 0, .hi = 1, .flags = CB_F_LO_OPEN | CB_F_HI_OPEN,
     .def = "1e-05", .applies = private_, .when = "dp.clipping is not none",
     .doc = "delta of the reported (epsilon, delta)"},
    {ENUM_("dp.sample_rate", dp.sample_rate, CB_Q_RULE_NAMES), .flags = CB_F_ID_UNLESS_DEFAULT,
     .def = "batch_over_n",
     .doc = "how train.batch_size B and the N training images give the sampling rate q: "
            "batch_over_n q = B/N, noisy sum / B; opacus q = 1/ceil(N/B), noisy sum / int(N q) "
            "(the study: 1/7 and 9); the same q goes to the accountant and the database"},
    {F("dp.accountants", CB_FT_ENUMS, dp.accountants), LIST(dp.n_accountants, 1, 4),
     .choices = CB_ACCOUNTANT_NAMES, .def = "[prv, rdp]", .applies = private_,
     .when = "dp.clipping is not none",
     .doc = "accountants reported each epoch; the first is primary (calibration, epsilon column)"},
    {F("dp.secure_mode", CB_FT_BOOL, dp.secure_mode), .choices = BOOL_NAMES, .def = "false",
     .applies = private_, .when = "dp.clipping is not none",
     .doc = "noise seeded from the OS with the rounding-attack-resistant sampler (not "
            "reproducible)"},
    {F("dp.automatic.gamma", CB_FT_NUM, dp.automatic.gamma), .lo = 0, .hi = BIG, .def = "0.01",
     .applies = automatic_s, .when = "dp.automatic.variant is auto_s with dp.clipping automatic",
     .doc = "stability constant of AUTO-S: R / (norm + gamma)"},
    {ENUM_("dp.automatic.variant", dp.automatic.variant, CB_AUTO_VARIANT_NAMES), .def = "auto_s",
     .applies = automatic, .when = "dp.clipping is automatic",
     .doc = "auto_s (with gamma) or auto_v (gamma 0)"},
    {ENUM_("dp.automatic.scope", dp.automatic.scope, CB_AUTO_SCOPE_NAMES), .def = "all",
     .applies = automatic, .when = "dp.clipping is automatic",
     .doc = "normalise the whole gradient or each parameter tensor"},
    {F("dp.sparsification.final_rate", CB_FT_NUM, dp.sparsification.final_rate), .lo = 0, .hi = 1,
     .flags = CB_F_HI_OPEN, .def = "0.9", .applies = sparsified,
     .when = "dp.clipping is random_sparsification",
     .doc = "fraction of coordinates dropped at the end of the linear ramp"},
    {F("dp.sparsification.refresh", CB_FT_INT, dp.sparsification.refresh), .lo = 1, .hi = 1000000,
     .def = "1", .applies = sparsified, .when = "dp.clipping is random_sparsification",
     .doc = "mask draws per epoch (at logical-step boundaries)"},
    {F("dp.sparsification.as_published", CB_FT_BOOL, dp.sparsification.as_published),
     .choices = BOOL_NAMES, .flags = CB_F_ID_UNLESS_DEFAULT, .def = "false", .applies = sparsified,
     .when = "dp.clipping is random_sparsification",
     .doc = "what the study's RS code ran: no mask, per-layer clipping (dp.clip_bound per "
            "tensor, noise std sigma*C*sqrt(K)) of two batches' per-sample gradients together, "
            "one noisy step every second batch"},
    {F("dp.adaptive.target_quantile", CB_FT_NUM, dp.adaptive.target_quantile), .lo = 0, .hi = 1,
     .flags = CB_F_LO_OPEN | CB_F_HI_OPEN, .def = "0.5", .applies = adaptive,
     .when = "dp.clipping is adaptive", .doc = "fraction of samples that should be unclipped"},
    {F("dp.adaptive.lr", CB_FT_NUM, dp.adaptive.lr), .lo = 0, .hi = BIG, .flags = CB_F_LO_OPEN,
     .def = "0.2", .applies = adaptive, .when = "dp.clipping is adaptive",
     .doc = "learning rate of the geometric bound update"},
    {F("dp.adaptive.count_std", CB_FT_NUM, dp.adaptive.count_std), .lo = 0, .hi = BIG,
     .flags = CB_F_AUTO | CB_F_LO_OPEN, .def = "auto", .applies = adaptive,
     .when = "dp.clipping is adaptive",
     .doc = "std of the noise on the unclipped count; auto = max(train.batch_size / 20, "
            "dp.noise_multiplier)"},
    {F("dp.adaptive.initial_bound", CB_FT_NUM, dp.adaptive.initial_bound), .lo = 0,
     .hi = MAX_CLIP_BOUND, .flags = CB_F_AUTO | CB_F_LO_OPEN, .def = "auto", .applies = adaptive,
     .when = "dp.clipping is adaptive", .doc = "starting clip bound; auto = dp.clip_bound"},
    {ENUM_("dp.norm_rule", dp.norm_rule, CB_NORM_RULE_NAMES), .flags = CB_F_VOLATILE,
     .def = "mixed", .applies = private_, .when = "dp.clipping is not none",
     .doc = "per-sample norms: ghost or materialised per layer by size (mixed), or forced"},

    {F("eval.every", CB_FT_INT, eval.every), .lo = 1, .hi = 1000000, .def = "1",
     .doc = "evaluate every N epochs (and after the last)"},
    {ENUM_("eval.split", eval.split, CB_EVAL_SPLIT_NAMES), .def = "val",
     .doc = "split the val_* columns are measured on: val only (test is refused: the test "
            "split is evaluated at the end of every run, into test_metrics)"},

    {ENUM_("metrics.dice", metrics.dice, CB_DICE_NAMES), .def = "pooled",
     .flags = CB_F_ID_UNLESS_DEFAULT,
     .doc = "Dice columns: pooled = per class over the split's pixels, classes absent from "
            "truth and prediction left out; per_image = the study's per-image mean over all "
            "classes with 1e-4 smoothing (an absent class scores 2)"},

    {F("checkpoint.every", CB_FT_INT, checkpoint.every), .lo = 1, .hi = 1000000,
     .flags = CB_F_VOLATILE, .def = "1", .doc = "write a checkpoint every N epochs"},
    {F("checkpoint.dir", CB_FT_STR, checkpoint.dir), .cap = CB_EXP_STR_MAX, .flags = CB_F_VOLATILE,
     .def = "\"checkpoints\"",
     .doc = "checkpoints go to DIR/<run id>/ (relative to the database's folder)"},

    {F("audit.canaries", CB_FT_INT, audit.canaries), .lo = 0, .hi = 1000000,
     .flags = CB_F_ID_UNLESS_DEFAULT, .def = "0",
     .doc = "privacy audit in one run (Steinke et al. 2023): canaries, each included with "
            "probability 1/2; 0 = no audit"},
    {ENUM_("audit.kind", audit.kind, CB_AUDIT_KIND_NAMES), .def = "gradient", .applies = audited,
     .when = "audit.canaries > 0",
     .doc = "gradient = crafted per-sample gradients clipped and noised like a sample's "
            "(white-box); input = images with a unique pattern and label map"},
    {F("audit.guesses", CB_FT_INT, audit.guesses), .lo = 1, .hi = 1000000, .flags = CB_F_AUTO,
     .def = "auto", .applies = audited, .when = "audit.canaries > 0",
     .doc = "canaries guessed included: the highest scores; auto = audit.canaries / 10"},
    {F("audit.confidence", CB_FT_NUM, audit.confidence), .lo = 0, .hi = 1,
     .flags = CB_F_LO_OPEN | CB_F_HI_OPEN, .def = "0.95", .applies = audited,
     .when = "audit.canaries > 0",
     .doc = "confidence of the epsilon lower bound (probability it is not exceeded by chance)"},
};

const int CB_N_FIELDS = (int)(sizeof CB_FIELDS / sizeof CB_FIELDS[0]);
_Static_assert(sizeof CB_FIELDS / sizeof CB_FIELDS[0] <= CB_EXP_MAX_FIELDS,
               "raise CB_EXP_MAX_FIELDS");

const cb_field *cb_field_find(const char *key, int *index) {
  for (int i = 0; i < CB_N_FIELDS; i++)
    if (strcmp(CB_FIELDS[i].key, key) == 0) {
      if (index) *index = i;
      return &CB_FIELDS[i];
    }
  return NULL;
}

int cb_field_is_section(const char *prefix) {
  size_t n = strlen(prefix);
  if (n == 0) return 1;
  for (int i = 0; i < CB_N_FIELDS; i++)
    if (strncmp(CB_FIELDS[i].key, prefix, n) == 0 && CB_FIELDS[i].key[n] == '.') return 1;
  return 0;
}

static void choices_text(const char *const *c, char *buf, size_t n) {
  buf[0] = 0;
  for (int k = 0; c[k]; k++) {
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "%s%s", k ? "|" : "", c[k]);
  }
}

static void range_text(const cb_field *f, const char *what, char *buf, size_t n) {
  char lo[40], hi[40];
  cb_format_double(f->lo, lo, sizeof lo);
  cb_format_double(f->hi, hi, sizeof hi);
  int has_hi = f->hi < 1e299 && f->hi != IMAX && f->hi != I64MAX;
  if (!has_hi)
    snprintf(buf, n, "%s %s %s", what, f->flags & CB_F_LO_OPEN ? ">" : ">=", lo);
  else
    snprintf(buf, n, "%s in %s%s, %s%s", what, f->flags & CB_F_LO_OPEN ? "(" : "[", lo, hi,
             f->flags & CB_F_HI_OPEN ? ")" : "]");
}

void cb_field_accepted(const cb_field *f, char *buf, size_t n) {
  char core[512];
  switch (f->type) {
  case CB_FT_STR: snprintf(core, sizeof core, "a string"); break;
  case CB_FT_INT:
  case CB_FT_I64: range_text(f, "an integer", core, sizeof core); break;
  case CB_FT_NUM: range_text(f, "a number", core, sizeof core); break;
  case CB_FT_BOOL: snprintf(core, sizeof core, "true|false"); break;
  case CB_FT_ENUM: choices_text(f->choices, core, sizeof core); break;
  case CB_FT_ENUMS: {
    char c[256];
    choices_text(f->choices, c, sizeof c);
    snprintf(core, sizeof core, "a list of %d to %d distinct items of %s", f->min_n, f->max_n, c);
    break;
  }
  case CB_FT_INTS:
  case CB_FT_NUMS: {
    char r[256];
    range_text(f, f->type == CB_FT_INTS ? "integers" : "numbers", r, sizeof r);
    if (f->min_n == f->max_n)
      snprintf(core, sizeof core, "a list of %d %s", f->min_n, r);
    else
      snprintf(core, sizeof core, "a list of %d to %d %s", f->min_n, f->max_n, r);
    break;
  }
  }
  snprintf(buf, n, "%s%s%s", core, f->flags & CB_F_AUTO ? ", or auto" : "",
           f->flags & CB_F_NULL ? ", or null" : "");
}

void cb_format_double(double v, char *buf, size_t n) {
  if (v == 0) v = 0; /* -0 prints as 0 */
  /* Shortest round trip, but integers below 1e15 without an exponent. */
  int digits = fabs(v) >= 1 && fabs(v) < 1e15 ? (int)floor(log10(fabs(v))) + 1 : 1;
  for (int prec = digits; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
}
