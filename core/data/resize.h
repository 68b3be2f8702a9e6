/* Resizing for imports: images with a bilinear (triangle) filter that widens
 * when shrinking, so downsampling averages instead of aliasing (the same
 * filter PIL calls BILINEAR); masks with nearest neighbour, so no label is
 * invented at a boundary. Pixel centres are aligned (half-pixel convention). */
#ifndef CB_DATA_RESIZE_H
#define CB_DATA_RESIZE_H

#include <stdint.h>

/* src is h x w, dst is H x W, both row-major. */
int cb_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W);
/* The study's mask resize (torchvision Resize of an integer label image):
 * the labels as numbers through the bilinear filter above, then rounded half
 * to even. Labels between two classes appear at their boundary (between 7
 * and 0, 3 or 4), which is what the published numbers were measured on. */
int cb_resize_labels_bilinear(const uint8_t *src, int h, int w, uint8_t *dst, int H, int W);
void cb_resize_nearest(const uint8_t *src, int h, int w, uint8_t *dst, int H, int W);

#endif
