#include "core/io/json_parse.h"

#include "core/base/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *s;
  size_t len, pos;
  const char *what;
  int failed;
} parser;

static int fail(parser *p, const char *problem) {
  if (!p->failed) cb_error("%s: %s at byte %zu", p->what, problem, p->pos);
  p->failed = 1;
  return -1;
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static int literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return fail(p, "invalid literal");
  p->pos += n;
  return 0;
}

static int hex4(parser *p, unsigned *out) {
  if (p->len - p->pos < 4) return fail(p, "truncated \\u escape");
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    char c = p->s[p->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return fail(p, "bad hex digit in \\u escape");
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *d, unsigned cp) {
  if (cp < 0x80) {
    d[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (char)(0xC0 | (cp >> 6));
    d[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (char)(0xE0 | (cp >> 12));
    d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  d[0] = (char)(0xF0 | (cp >> 18));
  d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  d[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of a valid UTF-8 sequence starting at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k;
  unsigned cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    k = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    k = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    k = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < k) return 0;
  for (size_t j = 1; j < k; j++) {
    if ((s[j] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[j] & 0x3F);
  }
  if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0; /* overlong, out of range or a surrogate */
  return k;
}

static int parse_string(parser *p, char **out) {
  p->pos++; /* opening quote */
  /* The decoded string is never longer than the encoded one. */
  size_t end = p->pos;
  while (end < p->len && p->s[end] != '"')
    end += p->s[end] == '\\' ? 2 : 1;
  char *d = malloc(end - p->pos + 5);
  if (!d) return fail(p, "out of memory");
  size_t n = 0;
  for (;;) {
    if (p->pos >= p->len) {
      free(d);
      return fail(p, "unterminated string");
    }
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20) {
      free(d);
      return fail(p, "control character in string");
    }
    if (c == '\\') {
      if (p->pos + 1 >= p->len) {
        free(d);
        return fail(p, "unterminated escape");
      }
      char e = p->s[p->pos + 1];
      p->pos += 2;
      const char *simple = "\"\\/bfnrt", *value = "\"\\/\b\f\n\r\t";
      const char *hit = e ? strchr(simple, e) : NULL;
      if (hit) {
        d[n++] = value[hit - simple];
        continue;
      }
      if (e != 'u') {
        free(d);
        return fail(p, "invalid escape");
      }
      unsigned cp, lo;
      if (hex4(p, &cp)) {
        free(d);
        return -1;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
          free(d);
          return fail(p, "unpaired surrogate in \\u escape");
        }
        p->pos += 2;
        if (hex4(p, &lo)) {
          free(d);
          return -1;
        }
        if (lo < 0xDC00 || lo > 0xDFFF) {
          free(d);
          return fail(p, "unpaired surrogate in \\u escape");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
        free(d);
        return fail(p, cp ? "unpaired surrogate in \\u escape" : "\\u0000 in string");
      }
      n += put_utf8(d + n, cp);
      continue;
    }
    size_t k = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
    if (!k) {
      free(d);
      return fail(p, "invalid UTF-8 in string");
    }
    memcpy(d + n, p->s + p->pos, k);
    n += k;
    p->pos += k;
  }
  d[n] = 0;
  *out = d;
  return 0;
}

static int parse_number(parser *p, cb_jv *v) {
  size_t start = p->pos;
  int frac = 0;
  if (p->s[p->pos] == '-') p->pos++;
  if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
    return fail(p, "invalid number");
  if (p->s[p->pos] == '0') {
    p->pos++;
    if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
      return fail(p, "leading zero in number");
  } else {
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
      p->pos++;
  }
  if (p->pos < p->len && p->s[p->pos] == '.') {
    frac = 1;
    p->pos++;
    size_t d0 = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
      p->pos++;
    if (p->pos == d0) return fail(p, "digit expected after decimal point");
  }
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    frac = 1;
    p->pos++;
    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    size_t d0 = p->pos;
    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
      p->pos++;
    if (p->pos == d0) return fail(p, "digit expected in exponent");
  }
  char buf[64];
  size_t n = p->pos - start;
  if (n >= sizeof buf) {
    /* Too long for an exact integer; still a valid double. */
    char *tmp = malloc(n + 1);
    if (!tmp) return fail(p, "out of memory");
    memcpy(tmp, p->s + start, n);
    tmp[n] = 0;
    v->num = strtod(tmp, NULL);
    free(tmp);
  } else {
    memcpy(buf, p->s + start, n);
    buf[n] = 0;
    v->num = strtod(buf, NULL);
    if (!frac) {
      errno = 0;
      long long ll = strtoll(buf, NULL, 10);
      if (errno == 0) {
        v->is_int = 1;
        v->i = ll;
      }
    }
  }
  /* 1e400 would become infinity, which JSON cannot write back. */
  if (!isfinite(v->num)) {
    p->pos = start;
    return fail(p, "number too large for a double");
  }
  v->kind = CB_JV_NUM;
  return 0;
}

static int parse_value(parser *p, cb_jv *v, int depth);

static int grow(parser *p, cb_jv *v, int *cap, int with_keys) {
  if (v->n < *cap) return 0;
  int nc = *cap ? 2 * *cap : 8;
  cb_jv *ni = realloc(v->items, (size_t)nc * sizeof *ni);
  if (!ni) return fail(p, "out of memory");
  v->items = ni;
  if (with_keys) {
    char **nk = realloc(v->keys, (size_t)nc * sizeof *nk);
    if (!nk) return fail(p, "out of memory");
    v->keys = nk;
  }
  *cap = nc;
  return 0;
}

static int parse_container(parser *p, cb_jv *v, int depth, int object) {
  char close = object ? '}' : ']';
  int cap = 0;
  v->kind = object ? CB_JV_OBJ : CB_JV_ARR;
  p->pos++;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    return 0;
  }
  for (;;) {
    if (grow(p, v, &cap, object)) return -1;
    cb_jv *item = &v->items[v->n];
    memset(item, 0, sizeof *item);
    if (object) {
      v->keys[v->n] = NULL;
      skip_ws(p);
      if (p->pos >= p->len || p->s[p->pos] != '"') return fail(p, "object key expected");
      v->n++; /* counted now so that cb_jv_free releases the key */
      if (parse_string(p, &v->keys[v->n - 1])) return -1;
      skip_ws(p);
      if (p->pos >= p->len || p->s[p->pos] != ':') return fail(p, "':' expected");
      p->pos++;
    } else {
      v->n++;
    }
    if (parse_value(p, item, depth + 1)) return -1;
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, "unterminated container");
    char c = p->s[p->pos++];
    if (c == close) return 0;
    if (c != ',') return fail(p, object ? "',' or '}' expected" : "',' or ']' expected");
  }
}

static int parse_value(parser *p, cb_jv *v, int depth) {
  if (depth > CB_JV_MAX_DEPTH) return fail(p, "nesting too deep");
  skip_ws(p);
  if (p->pos >= p->len) return fail(p, "value expected");
  char c = p->s[p->pos];
  switch (c) {
  case '{': return parse_container(p, v, depth, 1);
  case '[': return parse_container(p, v, depth, 0);
  case '"': v->kind = CB_JV_STR; return parse_string(p, &v->str);
  case 't':
    v->kind = CB_JV_BOOL;
    v->boolean = 1;
    return literal(p, "true");
  case 'f': v->kind = CB_JV_BOOL; return literal(p, "false");
  case 'n': v->kind = CB_JV_NULL; return literal(p, "null");
  default:
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
    return fail(p, "unexpected character");
  }
}

int cb_jv_parse(const char *text, size_t len, const char *what, cb_jv *out) {
  memset(out, 0, sizeof *out);
  parser p = {text, len, 0, what ? what : "JSON", 0};
  if (parse_value(&p, out, 0)) return -1;
  skip_ws(&p);
  if (p.pos != p.len) return fail(&p, "trailing characters after the document");
  return 0;
}

void cb_jv_free(cb_jv *v) {
  if (!v) return;
  free(v->str);
  for (int k = 0; k < v->n; k++) {
    cb_jv_free(&v->items[k]);
    if (v->keys) free(v->keys[k]);
  }
  free(v->items);
  free(v->keys);
  memset(v, 0, sizeof *v);
}

const cb_jv *cb_jv_get(const cb_jv *obj, const char *key) {
  if (!obj || obj->kind != CB_JV_OBJ) return NULL;
  for (int k = 0; k < obj->n; k++)
    if (obj->keys[k] && strcmp(obj->keys[k], key) == 0) return &obj->items[k];
  return NULL;
}

const char *cb_jv_kind_name(cb_jv_kind k) {
  switch (k) {
  case CB_JV_NULL: return "null";
  case CB_JV_BOOL: return "a boolean";
  case CB_JV_NUM: return "a number";
  case CB_JV_STR: return "a string";
  case CB_JV_ARR: return "an array";
  case CB_JV_OBJ: return "an object";
  }
  return "?";
}
