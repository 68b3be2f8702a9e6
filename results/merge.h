/* Folding one results database (a shard written by a SLURM array task, or
 * any other clipbench database) into another (issue 10).
 *
 * One transaction per shard: either everything the shard adds is merged, or
 * (on a conflict or an error) nothing. Merging the same shard twice adds
 * nothing. The rule for a run present in both databases:
 *
 *   - The configurations must be identical (the run id is their hash).
 *   - Their epoch rows must agree on every epoch both have (every column of
 *     epochs, epoch_classes and layer_norms except the timing columns
 *     epoch_seconds, samples_per_s and written_at, which describe the
 *     machine, not the result); otherwise it is a conflict, reported with the
 *     run, the table, the epoch and the first differing column.
 *   - When they agree, the side that got further wins: more epochs, or at
 *     equal epochs finished > failed > pending. So a finished run beats a
 *     partial one only when the partial one's epochs are a prefix of its own,
 *     and identical rows change nothing. A run finished on both sides must
 *     have the same number of epochs.
 *   - When the shard wins, its epoch rows replace the main database's and its
 *     run fields (status, times, attempts, error, checkpoint, host, SLURM job)
 *     are copied; a run the shard left `running` (its task was killed) arrives
 *     as pending. A run that is `running` in the main database is never
 *     changed (a conflict if the shard would change it).
 *
 * Sweeps are matched by name and positions must agree: a run the shard lists
 * at position I of sweep S is at position I of S in the main database (or is
 * added there when S does not list it and position I is free). A sweep the
 * main database lacks is added with the shard's file and spec.
 *
 * Schema versions: the shard is opened like every clipbench database, so an
 * older shard is migrated first and one written by a newer clipbench is
 * refused with an error naming both versions. */
#ifndef CB_RESULTS_MERGE_H
#define CB_RESULTS_MERGE_H

#include "results/store.h"

typedef struct cb_merge_stats {
  int runs_added;     /* runs the main database did not have */
  int runs_updated;   /* runs the shard took further */
  int runs_unchanged; /* identical, or the main database is ahead */
  int epochs_added;   /* epoch rows written */
  int sweeps_added;
  int positions_added; /* sweep_runs rows */
  int migrated_from;   /* the shard's schema version when it was older, else 0 */
  int n_conflicts;
  char **conflicts; /* one line each (malloc'ed) */
} cb_merge_stats;

void cb_merge_stats_free(cb_merge_stats *st);

/* Merges the database at `shard` into s. Returns 0 when merged (or nothing
 * was new), 1 when the shard conflicts with s (nothing merged; the lines are
 * in st->conflicts), -1 on an error (nothing merged; cb_error set). */
int cb_store_merge(cb_store *s, const char *shard, cb_merge_stats *st);

#endif
