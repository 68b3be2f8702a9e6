/* Label maps: the class ids stored in a dataset's masks -> the ids trained on.
 * The study's published masks hold 10 labels (0 above the retina, 1-7 layers,
 * 8 below the retina, 9 fluid) and its loader merges them into 9 classes. */
#include "core/base/error.h"
#include "core/data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const CB_LABEL_MAP_PRESETS[] = {"none", "duke_10_to_9", NULL};
static const char *const PRESET_PAIRS[] = {"", "8:0,9:8"};

static int bad(const char *text, const char *why) {
  return cb_error("label map '%s': %s; give none, duke_10_to_9 (the study's 8->0, 9->8) or "
                  "FROM:TO pairs like 8:0,9:8",
                  text, why);
}

int cb_label_map_parse(const char *text, cb_label_map *m) {
  memset(m, 0, sizeof *m);
  for (int i = 0; i < 256; i++)
    m->lut[i] = (uint8_t)i;
  const char *s = text;
  snprintf(m->name, sizeof m->name, "custom");
  for (int k = 0; CB_LABEL_MAP_PRESETS[k]; k++)
    if (strcmp(text, CB_LABEL_MAP_PRESETS[k]) == 0) {
      s = PRESET_PAIRS[k];
      snprintf(m->name, sizeof m->name, "%s", text);
    }
  int seen[256] = {0};
  while (*s) {
    char *end;
    errno = 0;
    long from = strtol(s, &end, 10);
    if (end == s || *end != ':') return bad(text, "expected FROM:TO");
    if (from < 0 || from > 255 || errno) return bad(text, "FROM must be 0..255");
    s = end + 1;
    long to = strtol(s, &end, 10);
    if (end == s || errno) return bad(text, "expected FROM:TO");
    if (to < 0 || to >= CB_DATA_MAX_CLASSES) return bad(text, "TO must be a class id 0..63");
    if (seen[from]) return bad(text, "a FROM id is listed twice");
    if (m->n == CB_DATA_MAX_CLASSES) return bad(text, "more than 64 pairs");
    seen[from] = 1;
    m->lut[from] = (uint8_t)to;
    m->from[m->n] = (uint8_t)from;
    m->to[m->n] = (uint8_t)to;
    m->n++;
    s = end;
    while (*s == ' ')
      s++;
    if (*s == ',') {
      s++;
      while (*s == ' ')
        s++;
      if (!*s) return bad(text, "trailing comma");
    } else if (*s) {
      return bad(text, "expected ',' between pairs");
    }
  }
  return 0;
}

void cb_label_map_text(const cb_label_map *m, char *buf, size_t cap) {
  if (!m || m->n == 0) {
    snprintf(buf, cap, "identity");
    return;
  }
  size_t o = 0;
  buf[0] = 0;
  for (int k = 0; k < m->n && o + 12 < cap; k++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%d->%d", k ? ", " : "", m->from[k], m->to[k]);
}
