#include "core/data/png.h"

#include "core/base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* length, type, data, CRC(type + data) */
static int put_chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len) {
  uint8_t hdr[8], crc[4];
  put32(hdr, len);
  memcpy(hdr + 4, type, 4);
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, (const Bytef *)type, 4);
  if (len) c = crc32(c, data, len);
  put32(crc, (uint32_t)c);
  return fwrite(hdr, 1, 8, f) == 8 && (!len || fwrite(data, 1, len, f) == len) &&
                 fwrite(crc, 1, 4, f) == 4
             ? 0
             : -1;
}

int cb_png_write_rgb(const char *path, const uint8_t *rgb, int W, int H) {
  if (W < 1 || H < 1 || W > 1 << 15 || H > 1 << 15)
    return cb_error("%s: PNG size %dx%d out of range", path, W, H);
  /* Each row: filter byte 0 (None) then the pixels. */
  size_t stride = (size_t)W * 3 + 1, raw_len = stride * (size_t)H;
  uint8_t *raw = malloc(raw_len);
  uLongf zlen = compressBound((uLong)raw_len);
  uint8_t *z = malloc(zlen);
  if (!raw || !z) {
    free(raw);
    free(z);
    return cb_error("%s: out of memory encoding a %dx%d PNG", path, W, H);
  }
  for (int y = 0; y < H; y++) {
    raw[(size_t)y * stride] = 0;
    memcpy(raw + (size_t)y * stride + 1, rgb + (size_t)y * W * 3, (size_t)W * 3);
  }
  int zrc = compress2(z, &zlen, raw, (uLong)raw_len, 6);
  free(raw);
  if (zrc != Z_OK) {
    free(z);
    return cb_error("%s: zlib compression failed (%d)", path, zrc);
  }
  static const uint8_t SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t ihdr[13];
  put32(ihdr, (uint32_t)W);
  put32(ihdr + 4, (uint32_t)H);
  ihdr[8] = 8;  /* bit depth */
  ihdr[9] = 2;  /* colour type: RGB */
  ihdr[10] = 0; /* deflate */
  ihdr[11] = 0; /* adaptive filtering */
  ihdr[12] = 0; /* no interlace */
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    free(z);
    return cb_error("%s: cannot create: %s", path, strerror(errno));
  }
  errno = 0;
  int ok = fwrite(SIG, 1, 8, f) == 8 && put_chunk(f, "IHDR", ihdr, 13) == 0 &&
           put_chunk(f, "IDAT", z, (uint32_t)zlen) == 0 && put_chunk(f, "IEND", NULL, 0) == 0;
  int err = errno;
  ok = fclose(f) == 0 && ok;
  if (!err) err = errno;
  free(z);
  if (!ok) {
    remove(tmp);
    return err ? cb_io_error(err, "%s: write failed", path) : cb_error("%s: write failed", path);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return cb_error("%s: cannot rename the temporary file into place: %s", path, strerror(e));
  }
  return 0;
}
