/* Duke DME Subject_XX.mat files (`clipbench data import-duke`): the input is
 * written to a file and read with cb_duke_read_file (libmatio underneath),
 * at the cropped size and resized, with expert 1 and 10 classes.
 *
 * A file that imports gives scans of the stated size with class ids below
 * the class count, finite intensities and a crop inside the B-scan. A
 * failure is one line naming the file. Bugs inside libmatio itself are not
 * ours to fix; see tests/fuzz/README.md for what we guard against. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "tests/fuzz/fuzz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "Subject_07.mat"

static void check_scans(const cb_duke_scan *sc, int n, const cb_duke_opts *o) {
  CB_FUZZ_CHECK(n > 0, "success without scans");
  for (int i = 0; i < n; i++) {
    CB_FUZZ_CHECK(sc[i].subject == 7, "subject %d from the name Subject_07", sc[i].subject);
    CB_FUZZ_CHECK(sc[i].H >= 1 && sc[i].W >= 1 && sc[i].x0 >= 0 && sc[i].x1 >= sc[i].x0,
                  "scan %d: %dx%d, columns %d-%d", i, sc[i].H, sc[i].W, sc[i].x0, sc[i].x1);
    if (o->H > 0)
      CB_FUZZ_CHECK(sc[i].H == o->H && sc[i].W == o->W, "scan not resized");
    else
      CB_FUZZ_CHECK(sc[i].W == sc[i].x1 - sc[i].x0 + 1, "crop width");
    size_t px = (size_t)sc[i].H * (size_t)sc[i].W;
    for (size_t k = 0; k < px; k++) {
      CB_FUZZ_CHECK(sc[i].mask[k] < o->classes, "class %d", sc[i].mask[k]);
      CB_FUZZ_CHECK(isfinite(sc[i].image[k]), "intensity %g", sc[i].image[k]);
    }
  }
}

int cb_fuzz_duke(const uint8_t *data, size_t size) {
  char path[1024];
  cb_fuzz_path(path, sizeof path, NAME);
  cb_fuzz_write(path, data, size);
  const cb_duke_opts opts[2] = {{10, 1, 0, 0}, {9, 1, 16, 12}};
  for (int k = 0; k < 2; k++) {
    cb_duke_scan *sc = NULL;
    int n = 0;
    cb_error_clear();
    if (cb_duke_read_file(path, &opts[k], 1, &sc, &n)) {
      cb_fuzz_check_error("cb_duke_read_file", NAME);
      CB_FUZZ_CHECK(sc == NULL && n == 0, "failure left scans");
      /* The same failure at both settings: no need to read again. */
      return 0;
    }
    cb_fuzz_accepted("cb_duke_read_file");
    check_scans(sc, n, &opts[k]);
    cb_duke_scans_free(sc, n);
  }
  return 0;
}

CB_FUZZ_ENTRY(duke)
