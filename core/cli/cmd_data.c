/* clipbench data: make, import, inspect and preview segmentation datasets.
 *   data synth        synthetic OCT B-scans -> NPY folder
 *   data import-duke  Duke DME Subject_XX.mat files -> NPY folder
 *   data info         counts, subjects and class frequencies
 *   data preview      PNG of scans with their masks overlaid */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "core/cli/predict.h"
#include "core/data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options that describe which dataset to load: "synthetic" or a folder. */
typedef struct {
  cb_intlist size;
  long long seed;
  int classes, per_subject, count;
  double fluid, noise;
  const char *label_map; /* folder: preset or FROM:TO pairs */
  int mask_resize;       /* folder: CB_MASK_RESIZE_* */
  cb_label_map map;
} data_opts;

static void data_opts_add(cb_cli *c, data_opts *o, int count_default, const char *count_name,
                          const char *count_help) {
  memset(o, 0, sizeof *o);
  o->size = (cb_intlist){.v = {224, 224}, .n = 2, .min_n = 1, .max_n = 2};
  o->seed = 1;
  o->count = count_default;
  o->fluid = 0.5;
  o->noise = 1.0;
  cb_cli_add(c, "size", CB_OPT_INTS, &o->size, "H [W]",
             "synthetic: image size (224 224); folder: resize every pair to it");
  cb_cli_add(c, "seed", CB_OPT_LONG, &o->seed, "S", "synthetic: generator seed (1)");
  cb_cli_add(c, count_name, CB_OPT_INT, &o->count, "N", count_help);
  cb_cli_add(c, "classes", CB_OPT_INT, &o->classes, "K",
             "synthetic: 9 or 10 (9); folder: masks must be below K (default: classes.tsv, else "
             "the largest id + 1)");
  cb_cli_add(c, "per-subject", CB_OPT_INT, &o->per_subject, "N",
             "synthetic: B-scans per subject (0 = spread over 10 subjects, like Duke)");
  cb_cli_add(c, "fluid", CB_OPT_DOUBLE, &o->fluid, "P",
             "synthetic: probability of fluid pockets per B-scan (0.5)");
  cb_cli_add(c, "noise", CB_OPT_DOUBLE, &o->noise, "X", "synthetic: speckle strength 0..4 (1)");
  o->label_map = "none";
  cb_cli_add(c, "label-map", CB_OPT_STR, &o->label_map, "MAP",
             "folder: map stored mask ids before use: none, duke_10_to_9 (the study's published "
             "masks: 8->0, 9->8) or FROM:TO pairs like 8:0,9:8");
  cb_cli_add_choice(c, "mask-resize", &o->mask_resize, CB_MASK_RESIZE_NAMES,
                    "folder, with --size: nearest (default) or bilinear_round (the study's "
                    "torchvision resize of the labels, rounded)");
}

static int is_synthetic(const char *src) {
  return strcmp(src, "synthetic") == 0;
}

static int load(const cb_cli *c, const char *src, data_opts *o, cb_dataset *d) {
  cb_data_spec s;
  cb_data_spec_default(&s);
  s.source = src;
  int H = o->size.v[0], W = o->size.n > 1 ? o->size.v[1] : o->size.v[0];
  if (is_synthetic(src)) {
    s.count = o->count;
    s.H = H;
    s.W = W;
    s.seed = (uint64_t)o->seed;
    s.classes = o->classes ? o->classes : 9;
    s.synth.per_subject = o->per_subject;
    s.synth.fluid_prob = o->fluid;
    s.synth.noise = o->noise;
  } else {
    s.H = cb_cli_given(c, "size") ? H : 0;
    s.W = cb_cli_given(c, "size") ? W : 0;
    s.classes = o->classes;
    s.mask_resize = o->mask_resize;
    if (cb_label_map_parse(o->label_map, &o->map)) return cb_error_prefix("--label-map: ");
    s.map = &o->map;
  }
  return cb_dataset_load(&s, d);
}

/* ---- synth ---- */

static int cmd_synth(int argc, char **argv) {
  cb_cli c;
  data_opts o;
  const char *out = NULL;
  int json = 0;
  cb_cli_init(&c, "clipbench data synth", "--out DIR [options]",
              "Writes seeded synthetic OCT B-scans with their masks as an NPY folder "
              "(images/, masks/, subjects.tsv, classes.tsv). The same seed gives the same bytes.");
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "DIR", "output folder (must not exist)");
  data_opts_add(&c, &o, 110, "count", "number of B-scans (110 = 10 subjects x 11)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "print a JSON summary");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out DIR is required");
  cb_dataset d;
  if (load(&c, "synthetic", &o, &d)) return -1;
  rc = cb_npy_folder_write(out, &d);
  if (!rc) {
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "out", out);
      cb_json_kv_int(&j, "images", d.n);
      cb_json_kv_int(&j, "height", d.H);
      cb_json_kv_int(&j, "width", d.W);
      cb_json_kv_int(&j, "classes", d.classes);
      cb_json_kv_int(&j, "seed", o.seed);
      cb_json_obj_end(&j);
      printf("\n");
    } else {
      printf("wrote %d synthetic B-scans of %dx%d (%d classes, seed %lld) to %s\n", d.n, d.H, d.W,
             d.classes, o.seed, out);
    }
  }
  cb_dataset_free(&d);
  return rc;
}

/* ---- import-duke ---- */

static int cmd_import_duke(int argc, char **argv) {
  cb_cli c;
  const char *out = NULL;
  cb_intlist size = {.v = {224, 224}, .n = 2, .min_n = 1, .max_n = 2};
  int classes = 9, expert = 1, json = 0;
  cb_cli_init(&c, "clipbench data import-duke", "SRC_DIR --out DIR [options]",
              "Imports the Duke DME data set (Chiu et al. 2015): reads SRC_DIR/Subject_XX.mat, "
              "keeps the annotated B-scans, crops each to its annotated columns, builds the class "
              "masks from the boundary and fluid annotations, resizes (bilinear image, nearest "
              "mask) and writes an NPY folder with every image's subject.");
  c.min_pos = c.max_pos = 1;
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "DIR", "output folder (must not exist)");
  cb_cli_add(&c, "size", CB_OPT_INTS, &size, "H [W]",
             "output size (224 224, as the study); 0 keeps the cropped size");
  cb_cli_add(&c, "classes", CB_OPT_INT, &classes, "9|10",
             "9: backgrounds merged (study); 10: above ILM and below RPE apart");
  cb_cli_add(&c, "expert", CB_OPT_INT, &expert, "1|2", "whose annotations (manualLayers1/2)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "print a JSON summary instead of a log");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out DIR is required");
  cb_duke_opts o = {.classes = classes,
                    .expert = expert,
                    .H = size.v[0],
                    .W = size.n > 1 ? size.v[1] : size.v[0]};
  if (cb_duke_import(c.pos[0], out, &o, json ? NULL : stdout)) return -1;
  if (json) {
    cb_npy_folder_opts fo = {.classes = 0};
    cb_dataset d;
    int n = -1;
    if (o.H > 0 && cb_npy_folder_load(out, &fo, &d) == 0) {
      n = d.n;
      cb_dataset_free(&d);
    }
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "out", out);
    if (n >= 0) cb_json_kv_int(&j, "images", n);
    cb_json_kv_int(&j, "classes", classes);
    cb_json_kv_int(&j, "expert", expert);
    cb_json_kv_int(&j, "height", o.H);
    cb_json_kv_int(&j, "width", o.W);
    cb_json_obj_end(&j);
    printf("\n");
  }
  return 0;
}

/* ---- info ---- */

/* Subjects of the images of split folder k, ascending and distinct, into ids
 * (capacity d->n); the image count. */
static int folder_subjects(const cb_dataset *d, int k, int *ids, int *n_ids) {
  int images = 0, n = 0;
  for (int i = 0; i < d->n; i++) {
    if (d->folder[i] != k) continue;
    images++;
    int p = 0;
    while (p < n && ids[p] < d->subjects[i])
      p++;
    if (p < n && ids[p] == d->subjects[i]) continue;
    memmove(ids + p + 1, ids + p, (size_t)(n - p) * sizeof *ids);
    ids[p] = d->subjects[i];
    n++;
  }
  *n_ids = n;
  return images;
}

static int cmd_info(int argc, char **argv) {
  cb_cli c;
  data_opts o;
  int json = 0;
  cb_cli_init(&c, "clipbench data info", "DATASET [options]",
              "Prints a dataset's size, subjects, split folders and class frequencies. DATASET is "
              "'synthetic', an NPY folder (images/, masks/, optional subjects.tsv and "
              "classes.tsv), or a folder of train/ val/ test/ such folders (the study's "
              "published DukeData layout; subjects from Subject_XX names).");
  c.min_pos = c.max_pos = 1;
  data_opts_add(&c, &o, 110, "count", "synthetic: number of B-scans (110)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON object");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  cb_dataset d;
  if (load(&c, c.pos[0], &o, &d)) return -1;
  uint64_t counts[CB_DATA_MAX_CLASSES];
  cb_dataset_class_counts(&d, counts);
  double total = (double)d.n * d.H * d.W;
  /* Subjects in ascending order with their image counts. */
  int *ids = malloc((size_t)d.n * sizeof *ids), *cnt = calloc((size_t)d.n, sizeof *cnt), ns = 0;
  if (!ids || !cnt) {
    free(ids);
    free(cnt);
    cb_dataset_free(&d);
    return cb_error("out of memory");
  }
  for (int i = 0; i < d.n; i++) {
    int k = 0;
    while (k < ns && ids[k] != d.subjects[i])
      k++;
    if (k == ns) {
      int p = ns++;
      while (p > 0 && ids[p - 1] > d.subjects[i]) {
        ids[p] = ids[p - 1];
        cnt[p] = cnt[p - 1];
        p--;
      }
      ids[p] = d.subjects[i];
      cnt[p] = 0;
      k = p;
    }
    cnt[k]++;
  }
  char b[40];
  if (json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "source", c.pos[0]);
    cb_json_kv_int(&j, "images", d.n);
    cb_json_kv_int(&j, "height", d.H);
    cb_json_kv_int(&j, "width", d.W);
    cb_json_kv_int(&j, "classes", d.classes);
    cb_json_kv_bool(&j, "subjects_known", d.subjects_known);
    cb_json_key(&j, "subjects");
    cb_json_arr_begin(&j);
    for (int k = 0; k < ns; k++) {
      cb_json_obj_begin(&j);
      cb_json_kv_int(&j, "id", ids[k]);
      cb_json_kv_int(&j, "images", cnt[k]);
      cb_json_obj_end(&j);
    }
    cb_json_arr_end(&j);
    char mt[512];
    cb_label_map_text(&o.map, mt, sizeof mt);
    cb_json_kv_str(&j, "label_map", is_synthetic(c.pos[0]) ? "identity" : mt);
    if (d.folder) {
      cb_json_key(&j, "folders");
      cb_json_arr_begin(&j);
      for (int k = 0; k < 3; k++) {
        int nf, images = folder_subjects(&d, k, ids, &nf);
        cb_json_obj_begin(&j);
        cb_json_kv_str(&j, "split", CB_SPLIT_NAMES[k]);
        cb_json_kv_int(&j, "images", images);
        cb_json_key(&j, "subjects");
        cb_json_arr_begin(&j);
        for (int q = 0; d.subjects_known && q < nf; q++)
          cb_json_int(&j, ids[q]);
        cb_json_arr_end(&j);
        cb_json_obj_end(&j);
      }
      cb_json_arr_end(&j);
    }
    cb_json_key(&j, "class_list");
    cb_json_arr_begin(&j);
    for (int k = 0; k < d.classes; k++) {
      cb_json_obj_begin(&j);
      cb_json_kv_int(&j, "id", k);
      cb_json_kv_str(&j, "name", cb_dataset_class_name(&d, k, b, sizeof b));
      cb_json_kv_bool(&j, "background", (int)((d.background >> k) & 1));
      cb_json_kv_int(&j, "pixels", (int64_t)counts[k]);
      cb_json_kv_num(&j, "share", total > 0 ? (double)counts[k] / total : 0.0);
      cb_json_obj_end(&j);
    }
    cb_json_arr_end(&j);
    cb_json_obj_end(&j);
    printf("\n");
  } else {
    printf("%s: %d images of %dx%d, %d classes\n", c.pos[0], d.n, d.H, d.W, d.classes);
    if (d.subjects_known) {
      printf("subjects: %d (", ns);
      for (int k = 0; k < ns; k++)
        printf("%s%d: %d", k ? ", " : "", ids[k], cnt[k]);
      printf(" images)\n");
    } else {
      printf("subjects: unknown (no subjects.tsv, names not Subject_XX_...): every image is its "
             "own subject, so split by fraction%s\n",
             d.folder ? " or by folders" : "");
    }
    if (d.folder) {
      printf("split folders:");
      for (int k = 0; k < 3; k++) {
        int nf, images = folder_subjects(&d, k, ids, &nf);
        printf("%s %s %d images", k ? "," : "", CB_SPLIT_NAMES[k], images);
        if (d.subjects_known && nf) {
          printf(" (subject%s", nf > 1 ? "s" : "");
          for (int q = 0; q < nf; q++)
            printf("%s%d", q ? "," : " ", ids[q]);
          printf(")");
        }
      }
      printf("\n");
    }
    if (!is_synthetic(c.pos[0]) && o.map.n) {
      char mt[512];
      cb_label_map_text(&o.map, mt, sizeof mt);
      printf("labels mapped: %s\n", mt);
    }
    printf("\n%-4s %-16s %14s %8s\n", "id", "class", "pixels", "share");
    for (int k = 0; k < d.classes; k++)
      printf("%-4d %-16s %14llu %7.2f%%%s\n", k, cb_dataset_class_name(&d, k, b, sizeof b),
             (unsigned long long)counts[k], total > 0 ? 100.0 * (double)counts[k] / total : 0.0,
             (d.background >> k) & 1 ? "  (background)" : "");
  }
  free(ids);
  free(cnt);
  cb_dataset_free(&d);
  return 0;
}

/* ---- preview ---- */

static int cmd_preview(int argc, char **argv) {
  cb_cli c;
  data_opts o;
  const char *out = NULL, *ckpt = NULL;
  int count = 6, json = 0;
  cb_cli_init(&c, "clipbench data preview", "DATASET --out FILE.png [options]",
              "Draws scans next to the same scans with their masks overlaid (one colour per "
              "class, colour-blind-safe palette, a legend), so you see what the model is asked to "
              "learn. Images are picked evenly across the dataset. DATASET is 'synthetic', an "
              "NPY folder or a folder of train/ val/ test/ NPY folders.");
  c.min_pos = c.max_pos = 1;
  cb_cli_add(&c, "out", CB_OPT_STR, &out, "FILE.png", "output PNG");
  cb_cli_add(&c, "count", CB_OPT_INT, &count, "N", "number of images to draw (6)");
  cb_cli_add(&c, "checkpoint", CB_OPT_STR, &ckpt, "FILE",
             "also draw this checkpoint's predictions next to the ground truth");
  data_opts_add(&c, &o, 110, "images", "synthetic: size of the generated dataset (110)");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "print a JSON summary");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (!out) return cb_error("--out FILE.png is required");
  if (count < 1 || count > 64) return cb_error("--count %d: draw 1..64 images", count);
  cb_dataset d;
  if (load(&c, c.pos[0], &o, &d)) return -1;
  if (count > d.n) count = d.n;
  int idx[64];
  for (int k = 0; k < count; k++)
    idx[k] = (int)((long long)k * d.n / count);
  uint8_t *preds = NULL;
  if (ckpt) {
    preds = malloc((size_t)count * d.H * d.W);
    if (!preds)
      rc = cb_error("out of memory for predictions");
    else
      rc = cb_predict_with_checkpoint(ckpt, &d, idx, count, preds);
  }
  if (!rc) rc = cb_preview_png(out, &d, idx, count, preds);
  free(preds);
  if (!rc) {
    if (json) {
      cb_json j;
      cb_json_init_file(&j, stdout);
      cb_json_obj_begin(&j);
      cb_json_kv_str(&j, "out", out);
      cb_json_kv_int(&j, "images", count);
      cb_json_obj_end(&j);
      printf("\n");
    } else
      printf("wrote %s (%d images of %dx%d)\n", out, count, d.H, d.W);
  }
  cb_dataset_free(&d);
  return rc;
}

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} SUB[] = {
    {"synth", cmd_synth, "write synthetic OCT B-scans as an NPY folder"},
    {"import-duke", cmd_import_duke, "import the Duke DME Subject_XX.mat files"},
    {"info", cmd_info, "counts, subjects and class frequencies of a dataset"},
    {"preview", cmd_preview, "PNG of scans with their masks overlaid"},
};

int cb_cmd_data(int argc, char **argv) {
  const int n = (int)(sizeof SUB / sizeof SUB[0]);
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    FILE *f = argc < 2 ? stderr : stdout;
    fprintf(
        f,
        "usage: clipbench data <subcommand> [options]   (clipbench data <subcommand> --help)\n\n");
    for (int i = 0; i < n; i++)
      fprintf(f, "  %-12s %s\n", SUB[i].name, SUB[i].summary);
    if (argc < 2) return cb_error("missing subcommand (synth, import-duke, info, preview)");
    return 0;
  }
  for (int i = 0; i < n; i++)
    if (strcmp(argv[1], SUB[i].name) == 0) return SUB[i].fn(argc - 1, argv + 1);
  return cb_error("unknown subcommand '%s' (synth, import-duke, info, preview)", argv[1]);
}
