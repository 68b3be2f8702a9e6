/* Live allocations of a device backend: cudaFree does not say how many bytes
 * it released, so the backend records each pointer's size to report memory in
 * use and the peak (clipbench bench, out-of-memory messages). Not locked: the
 * backend serialises calls. */
#ifndef CB_CUDA_MEM_TABLE_H
#define CB_CUDA_MEM_TABLE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  void **ptr;
  size_t *size;
  int n, cap;
  size_t in_use, peak;
} cb_mem_table;

/* Records p (bytes long). -1 with cb_error set when the table cannot grow. */
int cb_mem_table_add(cb_mem_table *t, void *p, size_t bytes);
/* Forgets p and stores its size in *bytes; -1 (no cb_error) if p is unknown. */
int cb_mem_table_remove(cb_mem_table *t, void *p, size_t *bytes);
void cb_mem_table_release(cb_mem_table *t);

#ifdef __cplusplus
}
#endif

#endif
