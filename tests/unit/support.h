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
/* tst_tmpdir()/name in one of 8 rotating static buffers. */
const char *tst_tmp_path(const char *name);

/* Asserts that the last error (cb_last_error) is one line containing must1
 * and, when not NULL, must2; prints the message when it does not. */
void tst_expect_error(const char *must1, const char *must2);

/* One-value queries on a results database; a failing statement fails the
 * test. No row or NULL gives -999 (int), NaN (num) or "(null)" (text). */
typedef struct cb_store cb_store;
long long tst_q_int(cb_store *s, const char *sql);
double tst_q_num(cb_store *s, const char *sql);
void tst_q_text(cb_store *s, const char *sql, char *out, size_t n);

#endif
