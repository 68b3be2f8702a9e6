#include "core/cuda/mem_table.h"

#include "core/base/error.h"

#include <stdlib.h>

int cb_mem_table_add(cb_mem_table *t, void *p, size_t bytes) {
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 64;
    void **np = realloc(t->ptr, (size_t)cap * sizeof *np);
    if (!np) return cb_error("out of host memory tracking device allocations");
    t->ptr = np;
    size_t *ns = realloc(t->size, (size_t)cap * sizeof *ns);
    if (!ns) return cb_error("out of host memory tracking device allocations");
    t->size = ns;
    t->cap = cap;
  }
  t->ptr[t->n] = p;
  t->size[t->n] = bytes;
  t->n++;
  t->in_use += bytes;
  if (t->in_use > t->peak) t->peak = t->in_use;
  return 0;
}

int cb_mem_table_remove(cb_mem_table *t, void *p, size_t *bytes) {
  /* Newest first: buffers are mostly freed in reverse order. */
  for (int i = t->n - 1; i >= 0; i--) {
    if (t->ptr[i] != p) continue;
    *bytes = t->size[i];
    t->in_use -= t->size[i];
    t->ptr[i] = t->ptr[t->n - 1];
    t->size[i] = t->size[t->n - 1];
    t->n--;
    return 0;
  }
  return -1;
}

void cb_mem_table_release(cb_mem_table *t) {
  free(t->ptr);
  free(t->size);
  t->ptr = NULL;
  t->size = NULL;
  t->n = t->cap = 0;
  t->in_use = 0;
}
