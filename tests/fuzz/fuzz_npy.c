/* .npy files: the reader on a buffer (cb_npy_parse), then the NPY-folder
 * loader on a folder whose image and mask are both the input (what `data:
 * {source: npy}` reads), kept at its size and resized.
 *
 * A parsed array is consistent (shape product = count, every element
 * readable, C order after a Fortran file); a written float32 array reads
 * back bit-exactly. A dataset that loads has finite images and class ids
 * below its class count. Failures are one line naming the file. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/npy.h"
#include "tests/fuzz/fuzz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz_array.npy"

static void check_array(const cb_npy *a) {
  CB_FUZZ_CHECK(a->ndim >= 0 && a->ndim <= CB_NPY_MAX_DIMS, "ndim %d", a->ndim);
  int64_t count = 1;
  for (int d = 0; d < a->ndim; d++) {
    CB_FUZZ_CHECK(a->shape[d] >= 0, "negative dimension");
    count *= a->shape[d];
  }
  CB_FUZZ_CHECK(count == a->count, "count %lld, shape product %lld", (long long)a->count,
                (long long)count);
  CB_FUZZ_CHECK(a->data != NULL, "no data");
  CB_FUZZ_CHECK(a->itemsize >= 1 && a->itemsize <= 8, "itemsize %zu", a->itemsize);
  double sum = 0;
  for (int64_t i = 0; i < a->count; i++)
    sum += cb_npy_get(a, i) != 0;
  (void)sum;
}

static void check_folder(const uint8_t *data, size_t size, int resize) {
  char root[1024], path[1100];
  cb_fuzz_path(root, sizeof root, "npyfolder");
  snprintf(path, sizeof path, "%s/images/a.npy", root);
  cb_fuzz_write(path, data, size);
  snprintf(path, sizeof path, "%s/masks/a.npy", root);
  cb_fuzz_write(path, data, size);
  cb_npy_folder_opts o = {.H = resize ? 8 : 0, .W = resize ? 8 : 0};
  cb_dataset d;
  cb_error_clear();
  if (cb_npy_folder_load(root, &o, &d)) {
    cb_fuzz_check_error("cb_npy_folder_load", "a.npy");
    return;
  }
  CB_FUZZ_CHECK(d.n == 1 && d.H >= 1 && d.W >= 1, "dataset %d images of %dx%d", d.n, d.H, d.W);
  CB_FUZZ_CHECK(d.classes >= 2 && d.classes <= CB_DATA_MAX_CLASSES, "classes %d", d.classes);
  size_t px = (size_t)d.H * (size_t)d.W;
  for (size_t k = 0; k < px; k++) {
    CB_FUZZ_CHECK(isfinite(d.images[k]), "image value %zu is %g after loading", k, d.images[k]);
    CB_FUZZ_CHECK(d.masks[k] < d.classes, "mask value %d >= %d classes", d.masks[k], d.classes);
  }
  cb_dataset_free(&d);
}

int cb_fuzz_npy(const uint8_t *data, size_t size) {
  cb_npy a;
  cb_error_clear();
  if (cb_npy_parse(data, size, NAME, &a)) {
    cb_fuzz_check_error("cb_npy_parse", NAME);
    return 0;
  }
  cb_fuzz_accepted("cb_npy_parse");
  check_array(&a);
  /* float32 arrays the writer supports read back bit for bit. */
  if (a.dtype == CB_NPY_F32 && a.ndim >= 1) {
    char path[1024];
    cb_fuzz_path(path, sizeof path, "roundtrip.npy");
    CB_FUZZ_CHECK(cb_npy_write(path, a.dtype, a.ndim, a.shape, a.data) == 0, "write: %s",
                  cb_last_error());
    cb_npy b;
    CB_FUZZ_CHECK(cb_npy_read(path, &b) == 0, "read back: %s", cb_last_error());
    CB_FUZZ_CHECK(b.count == a.count && b.ndim == a.ndim &&
                      memcmp(b.data, a.data, (size_t)a.count * a.itemsize) == 0,
                  "written array reads back differently");
    cb_npy_free(&b);
  }
  cb_npy_free(&a);
  check_folder(data, size, 0);
  check_folder(data, size, 1);
  return 0;
}

CB_FUZZ_ENTRY(npy)
