/* SHA-256 against the FIPS 180-2 / NIST example vectors and padding-boundary
 * lengths (expected digests from Python's hashlib). */
#include "core/base/sha256.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <string.h>

static void check(const char *msg, size_t n, const char *want) {
  char hex[65];
  cb_sha256_hex(msg, n, hex);
  assert_string_equal(hex, want);
}

static void test_nist_vectors(void **state) {
  (void)state;
  check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                     "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  check(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in uneven pieces so the block buffering is exercised. */
static void test_million_a(void **state) {
  (void)state;
  static char a[1000];
  memset(a, 'a', sizeof a);
  cb_sha256 s;
  cb_sha256_init(&s);
  size_t left = 1000000, piece = 1;
  while (left) {
    size_t n = piece < left ? piece : left;
    cb_sha256_update(&s, a, n);
    left -= n;
    piece = piece % 987 + 13; /* stays below sizeof a */
  }
  unsigned char d[32];
  cb_sha256_final(&s, d);
  char hex[65];
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
  assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the 56- and 64-byte padding boundaries. */
static void test_padding_boundaries(void **state) {
  (void)state;
  static const struct {
    size_t n;
    const char *hex;
  } v[] = {
      {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
      {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
      {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
      {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
      {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
      {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
      {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
  };
  char buf[128];
  for (int i = 0; i < 128; i++)
    buf[i] = (char)((i * 7 + 3) & 255);
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
    check(buf, v[k].n, v[k].hex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nist_vectors),
      cmocka_unit_test(test_million_a),
      cmocka_unit_test(test_padding_boundaries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
