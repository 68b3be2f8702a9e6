/* Segmentation datasets: images, class masks and the subject of every image.
 *
 * Sources: the built-in synthetic OCT generator (the default, so everything
 * runs without a download), an NPY folder (any user's data), and the Duke DME
 * importer that turns Subject_XX.mat files into an NPY folder. On top of a
 * loaded dataset: subject-disjoint splits, z-score normalisation with
 * training-split statistics, the validation metrics (confusion matrix, pixel
 * accuracy, Dice, IoU) and PNG previews.
 *
 * Every function that can fail returns 0 / -1 and sets cb_error() to one line
 * naming the file and what is wrong. */
#ifndef CB_DATA_DATASET_H
#define CB_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CB_DATA_MAX_CLASSES 64
#define CB_DATA_NAME_MAX 32

/* n images of H x W. images and masks are row-major [n][H][W]. */
typedef struct {
  int n, H, W;
  int classes;         /* mask values are 0 .. classes-1 */
  float *images;       /* float32 intensities (raw units until normalised) */
  uint8_t *masks;      /* class id per pixel */
  int *subjects;       /* subject (patient / eye) of every image */
  char **names;        /* name of every image (NULL if the source has none) */
  int8_t *folder;      /* split folder of every image (CB_SPLIT_*): NULL unless the source is
                          a folder of train/ val/ test/ subfolders */
  int subjects_known;  /* 0: no subject information, every image is its own subject */
  uint64_t background; /* bit c set: class c is background (left out of foreground means) */
  char class_names[CB_DATA_MAX_CLASSES][CB_DATA_NAME_MAX]; /* "" = unnamed */
} cb_dataset;

/* Allocates images, masks, subjects (and names when with_names) for n images
 * of H x W, zero-filled; background = class 0. */
int cb_dataset_alloc(cb_dataset *d, int n, int H, int W, int classes, int with_names);
void cb_dataset_free(cb_dataset *d);
/* Sets an image's name (copied). */
int cb_dataset_set_name(cb_dataset *d, int i, const char *name);
/* Name to show for class c: the class name, else "class c". */
const char *cb_dataset_class_name(const cb_dataset *d, int c, char *buf, size_t cap);
/* Gives the classes the study's names: 9 classes (0 background, 1-7 layers,
 * 8 fluid) or 10 (0 above ILM, 1-7 layers, 8 below RPE, 9 fluid), with the
 * background bits set. Other counts: unnamed, background = class 0. */
void cb_dataset_set_oct_classes(cb_dataset *d, int classes);
/* Copies the images listed in idx into a new dataset. */
int cb_dataset_subset(const cb_dataset *d, const int *idx, int n, cb_dataset *out);
/* Pixel count of every class over the whole dataset (counts[classes]). */
void cb_dataset_class_counts(const cb_dataset *d, uint64_t *counts);
/* Checks every mask value is below d->classes; the error names the image. */
int cb_dataset_check_masks(const cb_dataset *d, const char *what);

/* ---- synthetic OCT B-scans (synth_oct.c) ------------------------------ */

typedef struct {
  int per_subject;   /* B-scans per synthetic eye; 0 = spread over 10 subjects like Duke */
  double fluid_prob; /* probability that a B-scan has fluid pockets (0.5) */
  double noise;      /* speckle strength: 0 none, 1 default (two-look speckle), 2 heavy */
  int classes;       /* 9 (study: backgrounds merged) or 10 (backgrounds apart) */
} cb_synth_opts;

void cb_synth_opts_default(cb_synth_opts *o);
/* n OCT-like B-scans of H x W (H, W >= 16) with their masks. The same
 * (seed, n, H, W, opts) gives the same bytes on any machine and thread count:
 * every random draw comes from Philox (stream CB_STREAM_DATA) indexed by
 * (image, purpose, coordinate), and the transcendental functions are our own
 * (core/data/detmath.h), not libm's. Intensities are integers 0..255 stored
 * as float32, like an imported 8-bit scan. opts NULL = defaults. */
int cb_synth_oct(cb_dataset *out, int n, int H, int W, uint64_t seed, const cb_synth_opts *opts);

/* ---- label maps (label_map.c) ------------------------------------------ */

/* A map from the class ids stored in a dataset's masks to the ids trained on;
 * ids not listed keep their value. Applied to every mask as it is read,
 * before any resizing (the study maps, then resizes). */
typedef struct {
  char name[24];    /* the preset's name, or "custom" */
  int n;            /* listed pairs; 0 = identity */
  uint8_t lut[256]; /* stored id -> trained id */
  uint8_t from[CB_DATA_MAX_CLASSES], to[CB_DATA_MAX_CLASSES];
} cb_label_map;

/* Named presets: "none" (identity) and "duke_10_to_9" (the study's
 * TransformOCTMaskAdjustment: 8 below the RPE -> 0 background, 9 fluid -> 8;
 * 10 labels become 9 classes; a folder loaded with it and without classes.tsv
 * gets the study's 9 class names). */
extern const char *const CB_LABEL_MAP_PRESETS[]; /* NULL-terminated */
/* Parses a preset name or "FROM:TO,FROM:TO" (ids 0..255 -> 0..63, each FROM
 * once). The error names the text and what is accepted. */
int cb_label_map_parse(const char *text, cb_label_map *m);
/* "8->0, 9->8" or "identity", for messages and summaries. */
void cb_label_map_text(const cb_label_map *m, char *buf, size_t cap);

/* ---- NPY folders (npy_folder.c) --------------------------------------- */

/* A folder holds images/NAME.npy (HxW or 1xHxW, float32; uint8, integer and
 * float64 are converted), masks/NAME.npy (HxW class ids: any numeric type, so
 * float masks holding whole numbers load; anything else is refused naming the
 * file and pixel) with the same names, optional subjects.tsv
 * (name<TAB>subject[<TAB>anything]) and optional classes.tsv
 * (id<TAB>name[<TAB>background]). Images are sorted by name.
 *
 * Or a folder of split subfolders (the study's published layout): train/,
 * and optionally val/ and test/, each with images/ and masks/ (and optionally
 * its own subjects.tsv); d->folder then records every image's split folder.
 * Images are ordered train, val, test, by name within each.
 *
 * Without subjects.tsv, subjects come from the names when every name starts
 * with Subject_<digits> (followed by '_' or nothing): Subject_07_03 is
 * subject 7. A subject found in two split folders is an error. */
enum { CB_MASK_RESIZE_NEAREST = 0, CB_MASK_RESIZE_BILINEAR_ROUND = 1 };
extern const char *const CB_MASK_RESIZE_NAMES[]; /* "nearest", "bilinear_round" */

typedef struct {
  int classes;             /* > 0: masks must be below this; 0: classes.tsv, else max id + 1 */
  int H, W;                /* > 0: resize every pair (bilinear image, mask by mask_resize); 0:
                              keep, all pairs must then share one size */
  int mask_resize;         /* CB_MASK_RESIZE_NEAREST: nearest neighbour, no label invented;
                              CB_MASK_RESIZE_BILINEAR_ROUND: the study's torchvision resize of
                              the label image, bilinear (antialiased) then rounded half to even,
                              which invents intermediate labels at class boundaries */
  const cb_label_map *map; /* NULL = ids as stored */
} cb_npy_folder_opts;

/* Subject of a name "Subject_<digits>[_...]", or -1. */
int cb_subject_from_name(const char *name);

int cb_npy_folder_load(const char *dir, const cb_npy_folder_opts *opts, cb_dataset *out);
/* Writes the dataset as an NPY folder (float32 H x W images, uint8 masks,
 * subjects.tsv, classes.tsv). The folder is built under a temporary name and
 * renamed at the end, so a failure leaves no partial folder; dir must not
 * exist yet. Images without a name are called img_00000, ... */
int cb_npy_folder_write(const char *dir, const cb_dataset *d);

/* ---- loading by name (dataset.c) --------------------------------------- */

/* What the runner and the CLI load: "synthetic" or an NPY folder path. */
typedef struct {
  const char *source;      /* "synthetic" (default when NULL) or a folder */
  int count;               /* synthetic: number of images (110 = 10 subjects x 11) */
  int H, W;                /* synthetic: size (224 x 224); folder: resize when > 0 */
  uint64_t seed;           /* synthetic: generator seed */
  int classes;             /* synthetic: 9 or 10; folder: 0 = from the data */
  int mask_resize;         /* folder: CB_MASK_RESIZE_* */
  const cb_label_map *map; /* folder: NULL = ids as stored */
  cb_synth_opts synth;
} cb_data_spec;

void cb_data_spec_default(cb_data_spec *s);
int cb_dataset_load(const cb_data_spec *s, cb_dataset *out);

/* ---- Duke DME import (duke.c) ----------------------------------------- */

typedef struct {
  int classes; /* 9: backgrounds merged (study), 10: above ILM and below RPE apart */
  int expert;  /* 1 or 2: manualLayers1/manualFluid1 or ...2 */
  int H, W;    /* output size; 0 = keep the cropped size (widths then differ) */
} cb_duke_opts;

/* One annotated B-scan of a Duke volume, cropped and labelled. */
typedef struct {
  int subject;   /* from the file name Subject_XX, else the caller's fallback */
  int slice;     /* 0-based B-scan index in the volume */
  int x0, x1;    /* annotated columns kept (inclusive, 0-based, before resizing) */
  int H, W;      /* size of image and mask */
  float *image;  /* H x W row-major, the file's intensities (0..255) */
  uint8_t *mask; /* H x W class ids */
} cb_duke_scan;

/* Reads the annotated B-scans of one Subject_XX.mat (the slices whose
 * manualLayersE is not all NaN). Each is cropped to its annotated columns;
 * NaN gaps of a boundary inside them are filled by linear interpolation
 * along x (nearest annotated value beyond its last annotated column), then
 * boundaries are made monotone top to bottom (b_k = max(b_k, b_k-1)). Row y
 * (0-based) lies below boundary k when y >= the annotated value (the
 * convention of the common Duke preprocessing). Labels: the number of
 * boundaries above the pixel (0..8); 9 classes merge 8 into 0; fluid
 * (manualFluidE > 0) overrides as 8 (9 classes) or 9 (10 classes).
 * fallback_subject is used when the name has no Subject_XX. */
int cb_duke_read_file(const char *path, const cb_duke_opts *opts, int fallback_subject,
                      cb_duke_scan **scans, int *n);
void cb_duke_scans_free(cb_duke_scan *scans, int n);
/* Imports every Subject_*.mat in src_dir (sorted) into the NPY folder
 * out_dir (images named Subject_XX_SS, subjects.tsv with source file, slice
 * and crop columns). Prints one line per file to log when not NULL. */
int cb_duke_import(const char *src_dir, const char *out_dir, const cb_duke_opts *opts, FILE *log);

/* ---- splits (split.c) -------------------------------------------------- */

enum { CB_SPLIT_TRAIN = 0, CB_SPLIT_VAL = 1, CB_SPLIT_TEST = 2 };
extern const char *const CB_SPLIT_NAMES[3]; /* "train", "val", "test" */

typedef struct {
  int by_folders;         /* 1: the dataset's split folders (d->folder) decide */
  int by_fraction;        /* 0: subject lists, 1: fractions of the images */
  const int *subjects[3]; /* train, val, test subject ids; NULL = study default */
  int n_subjects[3];      /* (an empty list, n = 0, means no such split) */
  double val_frac, test_frac;
  uint64_t seed; /* fraction mode: which subjects go where */
} cb_split_spec;

typedef struct {
  int *idx[3]; /* image indices of train, val, test (ascending) */
  int n[3];
} cb_split;

/* Study default: subjects 1-6 train, 7-8 validation, 9-10 test. Folder mode:
 * every image goes to the split of its folder (an error when the dataset
 * was not loaded from split folders). */
void cb_split_spec_default(cb_split_spec *s);
/* Splits by subject: every subject's images go to one split only. Subject
 * mode: a subject in two lists is an error, a non-empty list matching no
 * image is an error, subjects in no list are left out. Fraction mode: the
 * subjects are shuffled (Philox, CB_STREAM_SPLIT) and given whole to test,
 * then validation, until each holds at least its fraction of the images;
 * the rest train. The training split is never empty. */
int cb_split_make(const cb_dataset *d, const cb_split_spec *s, cb_split *out);
void cb_split_free(cb_split *s);
/* Parses "1-6", "7,8", "1-3,5" into ids (ascending, unique), for command
 * lines. */
int cb_subject_list_parse(const char *s, int *ids, int cap, int *n);

/* ---- normalisation (normalize.c) -------------------------------------- */

typedef struct {
  double mean, std; /* population std over every pixel of the fitted images */
  double min, max;
  int64_t pixels;
} cb_norm_stats;

/* Statistics over the images idx[0..n) only (the training split). Fails
 * when those images are constant. */
int cb_norm_fit(const cb_dataset *d, const int *idx, int n, cb_norm_stats *out);
/* z-score: x <- (x - mean) / std for every image of the dataset. */
void cb_norm_apply(cb_dataset *d, const cb_norm_stats *s);
/* unit: x <- (x - min) / (max - min) with the training minimum and maximum
 * (other splits may leave [0, 1]). */
void cb_norm_apply_unit(cb_dataset *d, const cb_norm_stats *s);

/* ---- metrics (metrics.c) ----------------------------------------------- */

/* Confusion matrix cm[truth * classes + pred], accumulated over a split. */
typedef struct {
  int classes;
  uint64_t background; /* bit c: class c is background */
  uint64_t *cm;
} cb_confusion;

typedef struct {
  int classes;
  double pixel_accuracy;
  double dice[CB_DATA_MAX_CLASSES]; /* NaN: class absent from truth and prediction */
  double iou[CB_DATA_MAX_CLASSES];
  double mean_dice;    /* over classes with a defined Dice */
  double mean_dice_fg; /* same, background classes left out */
  double mean_iou;
  double mean_iou_fg;
  int defined; /* classes with a defined Dice */
  uint64_t pixels;
} cb_metrics;

int cb_confusion_init(cb_confusion *c, int classes, uint64_t background);
void cb_confusion_reset(cb_confusion *c);
void cb_confusion_free(cb_confusion *c);
/* Adds n pixels. A label >= classes is an error (nothing is added). */
int cb_confusion_add(cb_confusion *c, const uint8_t *truth, const uint8_t *pred, size_t n);
/* Per class c: TP = cm[c][c], FP = column sum - TP, FN = row sum - TP;
 * Dice = 2TP / (2TP + FP + FN), IoU = TP / (TP + FP + FN). A class absent
 * from both truth and prediction (TP + FP + FN = 0) has no defined score: NaN,
 * left out of every mean. Pixel accuracy = trace / total. */
void cb_confusion_finish(const cb_confusion *c, cb_metrics *m);

/* The study's Dice (its utils.per_class_dice at validation batch size 1): per
 * image and class c, with TP, |truth c| and |predicted c| of that image only,
 *   Dice_c = 2 (TP + s) / (|truth c| + |predicted c| + s),   s = smooth (1e-4),
 * averaged over ALL classes for the image, then over images. A class absent
 * from both truth and prediction therefore scores 2 (not 1, not undefined),
 * exactly as published. */
typedef struct {
  int classes;
  uint64_t background;
  double smooth;
  double sum[CB_DATA_MAX_CLASSES]; /* sum over images of Dice_c */
  double sum_mean;                 /* sum over images of the all-class mean */
  int images;
} cb_image_dice;

int cb_image_dice_init(cb_image_dice *a, int classes, uint64_t background, double smooth);
/* Adds one image of px pixels. A label >= classes is an error. */
int cb_image_dice_add(cb_image_dice *a, const uint8_t *truth, const uint8_t *pred, size_t px);
/* Replaces m's Dice fields: dice[c] = mean over images of Dice_c, mean_dice =
 * mean over images of the all-class mean, mean_dice_fg = mean of dice[c] over
 * the non-background classes. IoU, pixel accuracy and `defined` (of the
 * pooled Dice) are left as they are. No images: nothing changes. */
void cb_image_dice_finish(const cb_image_dice *a, cb_metrics *m);

/* ---- previews (preview.c) ---------------------------------------------- */

/* Writes a PNG: one row per listed image with the scan, the scan with its
 * true mask overlaid and, when preds is given (count masks of H x W, aligned
 * with idx), the scan with the predicted mask; a legend of the class colours
 * (colour-blind-safe palette) at the bottom. */
int cb_preview_png(const char *path, const cb_dataset *d, const int *idx, int count,
                   const uint8_t *preds);

#endif
