/* A small PNG encoder of our own: 8-bit RGB, one IDAT chunk compressed with
 * zlib, CRCs from zlib's crc32. Written to a temporary file and renamed. */
#ifndef CB_DATA_PNG_H
#define CB_DATA_PNG_H

#include <stdint.h>

/* rgb: H rows of W pixels, 3 bytes each. */
int cb_png_write_rgb(const char *path, const uint8_t *rgb, int W, int H);

#endif
