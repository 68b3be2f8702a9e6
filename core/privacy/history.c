/* Accountant history: segments of (sigma, q, steps), and their JSON form. */
#include "core/base/error.h"
#include "core/privacy/accountant.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2^53: the largest step count a double (and JSON) holds exactly. */
#define MAX_STEPS 9007199254740992LL

void cb_history_init(cb_history *h) {
  memset(h, 0, sizeof *h);
}

void cb_history_free(cb_history *h) {
  free(h->seg);
  memset(h, 0, sizeof *h);
}

void cb_history_clear(cb_history *h) {
  h->n = 0;
}

static int check_segment(double sigma, double q, long long steps) {
  if (!isfinite(sigma) || sigma < 0)
    return cb_error("noise multiplier must be a finite number >= 0, got %g", sigma);
  if (!(q >= 0 && q <= 1)) return cb_error("sampling rate must be in [0, 1], got %g", q);
  if (steps < 0 || steps > MAX_STEPS)
    return cb_error("step count must be in [0, 2^53], got %lld", steps);
  return 0;
}

int cb_history_add(cb_history *h, double sigma, double q, long long steps) {
  if (check_segment(sigma, q, steps)) return -1;
  if (steps == 0) return 0;
  /* The whole history stays within 2^53 steps too, so that its total (and
   * any sum over segments) is exact and cannot overflow. */
  if (cb_history_steps(h) > MAX_STEPS - steps)
    return cb_error("the history's step count overflows 2^53");
  if (h->n > 0) {
    cb_segment *last = &h->seg[h->n - 1];
    /* Bitwise equality, as Opacus compares floats with ==. */
    if (last->sigma == sigma && last->q == q) {
      last->steps += steps;
      return 0;
    }
  }
  if (h->n == h->cap) {
    int cap = h->cap ? 2 * h->cap : 4;
    cb_segment *s = realloc(h->seg, (size_t)cap * sizeof *s);
    if (!s) return cb_error("out of memory growing the accountant history to %d segments", cap);
    h->seg = s;
    h->cap = cap;
  }
  h->seg[h->n++] = (cb_segment){sigma, q, steps};
  return 0;
}

int cb_history_append(cb_history *dst, const cb_history *src) {
  int n = src->n; /* src may be dst */
  for (int i = 0; i < n; i++)
    if (cb_history_add(dst, src->seg[i].sigma, src->seg[i].q, src->seg[i].steps)) return -1;
  return 0;
}

int cb_history_copy(cb_history *dst, const cb_history *src) {
  if (dst == src) return 0;
  cb_history_clear(dst);
  return cb_history_append(dst, src);
}

long long cb_history_steps(const cb_history *h) {
  long long t = 0;
  for (int i = 0; i < h->n; i++)
    t += h->seg[i].steps;
  return t;
}

char *cb_history_to_json(const cb_history *h) {
  /* Each segment needs at most 2*24 + 20 + 5 characters. */
  size_t cap = 3 + (size_t)h->n * 80;
  char *s = malloc(cap);
  if (!s) {
    cb_error("out of memory writing the accountant history (%d segments)", h->n);
    return NULL;
  }
  size_t len = 0;
  s[len++] = '[';
  for (int i = 0; i < h->n; i++)
    len += (size_t)snprintf(s + len, cap - len, "%s[%.17g,%.17g,%lld]", i ? "," : "",
                            h->seg[i].sigma, h->seg[i].q, h->seg[i].steps);
  s[len++] = ']';
  s[len] = 0;
  return s;
}

/* ---- parser ---- */

typedef struct {
  const char *s, *p;
} reader;

static void skip_ws(reader *r) {
  while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
    r->p++;
}

static int fail(reader *r, const char *expected) {
  const char *p = r->p;
  if (!*p)
    return cb_error("accountant history JSON: expected %s at character %ld but the text ends "
                    "(the form is [[sigma,q,steps],...])",
                    expected, (long)(p - r->s));
  return cb_error("accountant history JSON: expected %s at character %ld, found '%.12s' "
                  "(the form is [[sigma,q,steps],...])",
                  expected, (long)(p - r->s), p);
}

static int expect(reader *r, char c) {
  skip_ws(r);
  if (*r->p != c) {
    char what[8] = {'\'', c, '\'', 0};
    return fail(r, what);
  }
  r->p++;
  return 0;
}

/* A JSON number (strict grammar, so "nan", "inf" and hex are rejected). */
static int number(reader *r, double *out, const char *what) {
  skip_ws(r);
  const char *p = r->p, *start = p;
  if (*p == '-') p++;
  if (!isdigit((unsigned char)*p)) return fail(r, what);
  if (*p == '0')
    p++;
  else
    while (isdigit((unsigned char)*p))
      p++;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p)) return fail(r, what);
    while (isdigit((unsigned char)*p))
      p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return fail(r, what);
    while (isdigit((unsigned char)*p))
      p++;
  }
  char buf[64];
  size_t n = (size_t)(p - start);
  if (n >= sizeof buf) return fail(r, what);
  memcpy(buf, start, n);
  buf[n] = 0;
  *out = strtod(buf, NULL);
  if (!isfinite(*out)) return fail(r, what);
  r->p = p;
  return 0;
}

int cb_history_from_json(cb_history *h, const char *json) {
  cb_history_clear(h);
  if (!json) return cb_error("accountant history JSON: no text");
  reader r = {json, json};
  if (expect(&r, '[')) goto bad;
  skip_ws(&r);
  if (*r.p == ']') {
    r.p++;
  } else {
    for (;;) {
      double sigma, q, steps;
      const char *at;
      if (expect(&r, '[') || number(&r, &sigma, "a noise multiplier") || expect(&r, ',') ||
          number(&r, &q, "a sampling rate") || expect(&r, ','))
        goto bad;
      skip_ws(&r);
      at = r.p;
      if (number(&r, &steps, "a step count")) goto bad;
      if (steps != floor(steps) || steps < 0 || steps > (double)MAX_STEPS) {
        cb_error("accountant history JSON: step count at character %ld must be an integer in "
                 "[0, 2^53], got %.17g",
                 (long)(at - json), steps);
        goto bad;
      }
      if (expect(&r, ']')) goto bad;
      if (cb_history_add(h, sigma, q, (long long)steps)) {
        cb_error_prefix("accountant history JSON, segment ending at character %ld: ",
                        (long)(r.p - json));
        goto bad;
      }
      skip_ws(&r);
      if (*r.p == ',') {
        r.p++;
        continue;
      }
      if (expect(&r, ']')) goto bad;
      break;
    }
  }
  skip_ws(&r);
  if (*r.p) {
    fail(&r, "the end of the text");
    goto bad;
  }
  return 0;
bad:
  cb_history_clear(h);
  return -1;
}
