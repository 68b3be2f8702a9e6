/* Host+device qualifiers for the shared kernel bodies. Every custom kernel's
 * arithmetic is a `CB_HD static inline` function of one index, compiled by the
 * C compiler for the CPU backend and by nvcc for the CUDA backend, so the CPU
 * tests check the very arithmetic the GPU runs. */
#ifndef CB_KERNELS_HD_H
#define CB_KERNELS_HD_H

#include <stdint.h>

#ifdef __CUDACC__
#define CB_HD __host__ __device__
#else
#define CB_HD
#endif

#endif
