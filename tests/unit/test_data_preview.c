/* PNG encoder (decoded here with zlib: signature, chunk CRCs, IHDR, pixels)
 * and preview layout: the scan column is grey, the truth column is tinted
 * exactly where the mask is not background, an all-background prediction
 * leaves its column untinted. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/png.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes an RGB8 PNG written by our encoder (filter 0 rows). */
static uint8_t *read_png(const char *path, int *W, int *H) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  uint8_t *buf = malloc((size_t)len);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  assert_memory_equal(buf, "\x89PNG\r\n\x1a\n", 8);
  uint8_t *z = NULL;
  size_t zl = 0;
  long o = 8;
  int ended = 0;
  while (o + 12 <= len) {
    uint32_t n = be32(buf + o);
    const uint8_t *type = buf + o + 4;
    uLong crc = crc32(crc32(0, Z_NULL, 0), type, 4 + n);
    assert_true(crc == be32(buf + o + 8 + n));
    if (!memcmp(type, "IHDR", 4)) {
      *W = (int)be32(type + 4);
      *H = (int)be32(type + 8);
      assert_int_equal(type[12], 8);
      assert_int_equal(type[13], 2);
    } else if (!memcmp(type, "IDAT", 4)) {
      z = realloc(z, zl + n);
      memcpy(z + zl, type + 4, n);
      zl += n;
    } else if (!memcmp(type, "IEND", 4)) {
      ended = 1;
    }
    o += 12 + n;
  }
  assert_true(ended && o == len);
  size_t stride = (size_t)*W * 3 + 1;
  uLongf rl = stride * (size_t)*H;
  uint8_t *raw = malloc(rl), *rgb = malloc((size_t)*W * *H * 3);
  assert_int_equal(uncompress(raw, &rl, z, zl), Z_OK);
  assert_int_equal(rl, stride * (size_t)*H);
  for (int y = 0; y < *H; y++) {
    assert_int_equal(raw[y * stride], 0);
    memcpy(rgb + (size_t)y * *W * 3, raw + y * stride + 1, (size_t)*W * 3);
  }
  free(raw);
  free(z);
  free(buf);
  return rgb;
}

static void test_png_round_trip(void **state) {
  (void)state;
  int W = 37, H = 23;
  uint8_t *rgb = malloc((size_t)W * H * 3);
  for (int i = 0; i < W * H * 3; i++)
    rgb[i] = (uint8_t)((i * 131) ^ (i >> 3));
  char p[512];
  snprintf(p, sizeof p, "%s/t.png", tst_tmpdir());
  assert_int_equal(cb_png_write_rgb(p, rgb, W, H), 0);
  int w, h;
  uint8_t *back = read_png(p, &w, &h);
  assert_int_equal(w, W);
  assert_int_equal(h, H);
  assert_memory_equal(back, rgb, (size_t)W * H * 3);
  free(back);
  assert_int_equal(cb_png_write_rgb(p, rgb, 0, 1), -1);
  assert_int_equal(cb_png_write_rgb("/nonexistent/dir/x.png", rgb, W, H), -1);
  assert_non_null(strstr(cb_last_error(), "/nonexistent/dir/x.png"));
  free(rgb);
}

static int grey(const uint8_t *p) {
  return p[0] == p[1] && p[1] == p[2];
}

static void test_preview_overlay(void **state) {
  (void)state;
  cb_dataset d;
  /* H >= 128 so tiles are drawn at scale 1 and tile pixels map 1:1. */
  assert_int_equal(cb_synth_oct(&d, 3, 128, 160, 5, NULL), 0);
  int idx[2] = {2, 0};
  uint8_t *preds = calloc(2 * 128 * 160, 1); /* "everything background" */
  char p[512];
  snprintf(p, sizeof p, "%s/preview.png", tst_tmpdir());
  assert_int_equal(cb_preview_png(p, &d, idx, 2, preds), 0);
  int W, H;
  uint8_t *rgb = read_png(p, &W, &H);
  /* Layout (preview.c): margin 10, header 24, per row a 13-pixel label then
   * the tile and a 6-pixel gap; tiles 6 apart. */
  assert_int_equal(W, 2 * 10 + 3 * 160 + 2 * 6);
  int tinted = 0;
  for (int k = 0; k < 2; k++) {
    int y0 = 10 + 24 + k * (13 + 128 + 6) + 13;
    for (int y = 0; y < 128; y++)
      for (int x = 0; x < 160; x++) {
        const uint8_t *scan = rgb + ((size_t)(y0 + y) * W + 10 + x) * 3;
        const uint8_t *truth = scan + (160 + 6) * 3, *pred = truth + (160 + 6) * 3;
        int c = d.masks[((size_t)idx[k] * 128 + y) * 160 + x];
        assert_true(grey(scan));
        assert_true(grey(pred));
        assert_int_equal(!grey(truth), c != 0);
        tinted += c != 0;
        /* Untinted truth pixels equal the scan pixel. */
        if (c == 0) assert_memory_equal(truth, scan, 3);
      }
  }
  assert_true(tinted > 1000);
  free(rgb);
  /* Bad requests. */
  idx[0] = 7;
  assert_int_equal(cb_preview_png(p, &d, idx, 1, NULL), -1);
  assert_non_null(strstr(cb_last_error(), "image 7"));
  assert_int_equal(cb_preview_png(p, &d, idx, 0, NULL), -1);
  free(preds);
  cb_dataset_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_png_round_trip),
      cmocka_unit_test(test_preview_overlay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
