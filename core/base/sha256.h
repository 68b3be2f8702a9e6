/* SHA-256 (FIPS 180-4), used for run identities: the id of a run is a prefix
 * of the SHA-256 of its canonical configuration. Small and dependency-free so
 * that every stage (and a shard on a compute node) computes the same id. */
#ifndef CB_BASE_SHA256_H
#define CB_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t bytes;    /* message length so far */
  uint8_t block[64]; /* pending input */
  size_t fill;
} cb_sha256;

void cb_sha256_init(cb_sha256 *s);
void cb_sha256_update(cb_sha256 *s, const void *data, size_t n);
void cb_sha256_final(cb_sha256 *s, uint8_t digest[32]);

/* One-shot digest as 64 lowercase hex characters plus NUL. */
void cb_sha256_hex(const void *data, size_t n, char hex[65]);

#endif
