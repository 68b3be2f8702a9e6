/* Philox4x32-10 counter-based generator (Salmon et al., "Parallel random
 * numbers: as easy as 1, 2, 3", SC'11), written once for host and device.
 * A draw is a pure function of (key, counter): CPU and GPU produce identical
 * streams for the same (seed, stream, step, coordinate), and any coordinate
 * can be generated independently, which is what lets noise be added in
 * parallel and reproduced after a resume. Not a CSPRNG: secure mode seeds the
 * key from the OS and uses the rounding-resistant sampler below. */
#ifndef CB_KERNELS_PHILOX_H
#define CB_KERNELS_PHILOX_H

#include "core/kernels/hd.h"

#include <math.h>

typedef struct {
  uint32_t v[4];
} cb_philox_ctr;

typedef struct {
  uint32_t v[2];
} cb_philox_key;

#define CB_PHILOX_M0 0xD2511F53u
#define CB_PHILOX_M1 0xCD9E8D57u
#define CB_PHILOX_W0 0x9E3779B9u
#define CB_PHILOX_W1 0xBB67AE85u

CB_HD static inline uint32_t cb_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

CB_HD static inline cb_philox_ctr cb_philox_round(cb_philox_ctr c, cb_philox_key k) {
  uint32_t hi0, hi1;
  uint32_t lo0 = cb_mulhilo32(CB_PHILOX_M0, c.v[0], &hi0);
  uint32_t lo1 = cb_mulhilo32(CB_PHILOX_M1, c.v[2], &hi1);
  cb_philox_ctr r;
  r.v[0] = hi1 ^ c.v[1] ^ k.v[0];
  r.v[1] = lo1;
  r.v[2] = hi0 ^ c.v[3] ^ k.v[1];
  r.v[3] = lo0;
  return r;
}

/* Philox4x32 with 10 rounds; matches the Random123 known-answer vectors. */
CB_HD static inline cb_philox_ctr cb_philox4x32_10(cb_philox_ctr c, cb_philox_key k) {
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k.v[0] += CB_PHILOX_W0;
      k.v[1] += CB_PHILOX_W1;
    }
    c = cb_philox_round(c, k);
  }
  return c;
}

/* Uniform in (0, 1]: never 0, so log() is safe; 24 bits like float. */
CB_HD static inline float cb_u01(uint32_t x) {
  return ((float)(x >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

/* Uniform double in (0, 1] from two words (53 bits). */
CB_HD static inline double cb_u01d(uint32_t a, uint32_t b) {
  uint64_t x = ((uint64_t)a << 21) ^ (uint64_t)(b >> 11);
  x &= ((uint64_t)1 << 53) - 1;
  return ((double)x + 1.0) * (1.0 / 9007199254740992.0);
}

/* The four words for (seed, stream, step, index): the key carries the seed,
 * the counter carries (index low, index high, step, stream). */
CB_HD static inline cb_philox_ctr cb_philox_words(uint64_t seed, uint32_t stream, uint32_t step,
                                                  uint64_t index) {
  cb_philox_key k;
  k.v[0] = (uint32_t)seed;
  k.v[1] = (uint32_t)(seed >> 32);
  cb_philox_ctr c;
  c.v[0] = (uint32_t)index;
  c.v[1] = (uint32_t)(index >> 32);
  c.v[2] = step;
  c.v[3] = stream;
  return cb_philox4x32_10(c, k);
}

/* Standard normal draw for (seed, stream, step, index), Box-Muller in double
 * precision so the tails are right, rounded once to float at the end. */
CB_HD static inline double cb_gauss(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index) {
  cb_philox_ctr w = cb_philox_words(seed, stream, step, index);
  double u1 = cb_u01d(w.v[0], w.v[1]);
  double u2 = cb_u01d(w.v[2], w.v[3]);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Rounding-attack-resistant normal (Opacus secure_mode, after Holohan &
 * Braghin 2021): the sum of four independent draws halved has the same
 * variance but hides the low-order bits a single draw leaks. */
CB_HD static inline double cb_gauss_secure(uint64_t seed, uint32_t stream, uint32_t step,
                                           uint64_t index) {
  double s = 0.0;
  for (uint64_t r = 0; r < 4; r++)
    s += cb_gauss(seed, stream ^ 0x80000000u, step, index * 4u + r);
  return 0.5 * s;
}

/* Uniform float in (0,1] for (seed, stream, step, index). */
CB_HD static inline double cb_uniform(uint64_t seed, uint32_t stream, uint32_t step,
                                      uint64_t index) {
  cb_philox_ctr w = cb_philox_words(seed, stream, step, index);
  return cb_u01d(w.v[0], w.v[1]);
}

/* Streams: every random purpose has its own so they never overlap. */
enum {
  CB_STREAM_INIT = 1,    /* weight initialisation */
  CB_STREAM_NOISE = 2,   /* gradient noise */
  CB_STREAM_SAMPLE = 3,  /* Poisson sampling */
  CB_STREAM_MASK = 4,    /* random sparsification masks */
  CB_STREAM_COUNT = 5,   /* adaptive clipping count noise */
  CB_STREAM_DATA = 6,    /* synthetic data */
  CB_STREAM_SPLIT = 7,   /* dataset splits */
  CB_STREAM_SHUFFLE = 8, /* non-private batch order */
  CB_STREAM_CANARY = 9   /* privacy audit: canary inclusion, placement, content */
};

#endif
