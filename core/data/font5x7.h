/* A 5x7 pixel font (our own drawing) for the labels of preview images:
 * A-Z (lower case is drawn as upper case), 0-9 and common punctuation. */
#ifndef CB_DATA_FONT5X7_H
#define CB_DATA_FONT5X7_H

#include <stdint.h>

/* Rows of the glyph of c: 7 bytes, bit 4 = leftmost column. Unknown
 * characters give the glyph of '?'. */
const uint8_t *cb_font5x7(char c);

#endif
