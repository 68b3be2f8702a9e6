/* Helpers shared by the unit tests. */
#ifndef CB_TESTS_SUPPORT_H
#define CB_TESTS_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka must come after the headers above. */
#include <cmocka.h>

/* Fills x[0..n) with uniform values in [lo, hi) from a fixed seed. */
void tst_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Relative error |a-b| / max(|a|, |b|, floor). */
double tst_rel_err(double a, double b, double floor);
/* Path of a fresh temporary directory (removed at exit). */
const char *tst_tmpdir(void);
/* Source tree path joined with rel (static buffer). */
const char *tst_src_path(const char *rel);

#endif
