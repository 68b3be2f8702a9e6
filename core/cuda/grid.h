/* Grid-stride loop geometry of the CUDA kernels: thread t of block b starts at
 * index b*dim + t and advances by dim*grid, so any grid covers [0, n) exactly
 * once. In 64 bits: images x channels x pixels can exceed 2^31. Host+device
 * and plain C so the CPU tests check the coverage (test_cuda_host.c). */
#ifndef CB_CUDA_GRID_H
#define CB_CUDA_GRID_H

#include "core/kernels/hd.h"

#include <stdint.h>

#define CB_CUDA_BLOCK 256

CB_HD static inline int64_t cb_grid_first(unsigned block, unsigned thread, unsigned dim) {
  return (int64_t)block * (int64_t)dim + (int64_t)thread;
}

CB_HD static inline int64_t cb_grid_stride(unsigned dim, unsigned grid) {
  return (int64_t)dim * (int64_t)grid;
}

/* Blocks for n indices: enough for one index per thread, capped at
 * max_blocks (a few waves of the device; the loop covers the rest), >= 1. */
static inline unsigned cb_grid_blocks(int64_t n, unsigned dim, unsigned max_blocks) {
  int64_t b = (n + (int64_t)dim - 1) / (int64_t)dim;
  if (b > (int64_t)max_blocks) b = (int64_t)max_blocks;
  return b < 1 ? 1u : (unsigned)b;
}

#endif
