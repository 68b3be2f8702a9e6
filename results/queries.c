/* The named export queries: the data behind each figure. Every query keeps
 * the run's identifying fields (run_id, label, arch, clipping,
 * noise_multiplier, clip_bound, seed) so that plots can split series without
 * joins, orders rows by those fields (then epoch), and restricts itself to a
 * sweep's runs when :sweep is bound. Columns are documented in README
 * "Experiment files and results database"; add columns at the end so that
 * scripts using column numbers keep working. */
#include "results/export.h"

#include <string.h>

/* The runs of :sweep, or all runs when it is NULL. */
#define IN_SWEEP(r)                                                                     \
  "(:sweep IS NULL OR " r ".id IN (SELECT sr.run_id FROM sweep_runs sr JOIN sweeps sw " \
  "ON sw.id = sr.sweep_id WHERE sw.name = :sweep))"

/* A short series name for plot keys, e.g. "unet/flat/sigma=0.5/C=1". */
#define LABEL(r)                                                                                \
  r ".arch || '/' || " r ".clipping || iif(" r ".noise_multiplier IS NULL, '', printf("         \
    "'/sigma=%g', " r ".noise_multiplier)) || iif(" r ".target_epsilon IS NULL, '', printf("    \
    "'/eps=%g', " r ".target_epsilon)) || iif(" r ".clip_bound IS NULL, '', printf('/C=%g', " r \
    ".clip_bound))"

/* Methods in a fixed order, so every figure gives a method the same colour. */
#define METHOD_RANK(r)                                                                      \
  "CASE " r ".clipping WHEN 'none' THEN 0 WHEN 'flat' THEN 1 WHEN 'per_layer' THEN 2 WHEN " \
  "'automatic' THEN 3 WHEN 'random_sparsification' THEN 4 WHEN 'adaptive' THEN 5 ELSE 6 END"

/* Legend text of a method: "non-private", "per-layer", "random sparsification". */
#define METHOD_TITLE(r)                                                                        \
  "CASE " r ".clipping WHEN 'none' THEN 'non-private' WHEN 'per_layer' THEN 'per-layer' WHEN " \
  "'random_sparsification' THEN 'random sparsification' ELSE " r ".clipping END"

/* Legend text of a series: method, sigma (or target epsilon) and clip bound. */
#define TITLE(r)                                                                                   \
  METHOD_TITLE(r)                                                                                  \
  " || iif(" r ".noise_multiplier IS NULL, '', printf(' σ=%g', " r ".noise_multiplier)) || iif(" r \
  ".target_epsilon IS NULL, '', printf(' ε=%g', " r ".target_epsilon)) || iif(" r                  \
  ".clip_bound IS NULL, '', printf(' C=%g', " r ".clip_bound))"

#define RUN_COLS(r)                                                                                \
  r ".id AS run_id, " LABEL(r) " AS label, " r ".arch, " r ".clipping, " r ".noise_multiplier, " r \
                               ".target_epsilon, " r ".clip_bound, " r ".seed, " r ".lr, " r       \
                               ".batch_size"

#define RUN_ORDER(r)                                                                            \
  r ".arch, " r ".clipping, " r ".noise_multiplier, " r ".target_epsilon, " r ".clip_bound, " r \
    ".seed, " r ".id"

/* Whether a run's epsilon is a DP guarantee, in words (runs.dp_caveat says
 * why not). */
#define DP_STATUS(r)                                                                  \
  "CASE WHEN " r ".clipping = 'none' THEN 'non-private' WHEN " r ".dp_guarantee = 1 " \
  "THEN 'DP guarantee' WHEN " r ".dp_guarantee = 0 THEN 'not a DP guarantee' ELSE "   \
  "'unknown (run before clipbench recorded it)' END"

/* The test split of a run with its final (tf) and best-validation (tb)
 * weights; the columns appended to the queries that show metrics. */
#define TEST_JOIN(r)                                                            \
  " LEFT JOIN test_metrics tf ON tf.run_id = " r ".id AND tf.weights = 'final'" \
  " LEFT JOIN test_metrics tb ON tb.run_id = " r ".id AND tb.weights = 'best_val'"
#define TEST_COLS                                                                \
  " tf.loss AS test_loss, tf.pixel_acc AS test_pixel_acc, tf.dice AS test_dice," \
  " tf.dice_fg AS test_dice_fg, tf.iou AS test_iou, tf.iou_fg AS test_iou_fg,"   \
  " tb.epoch AS best_val_epoch, tb.loss AS best_val_test_loss,"                  \
  " tb.pixel_acc AS best_val_test_pixel_acc, tb.dice AS best_val_test_dice,"     \
  " tb.dice_fg AS best_val_test_dice_fg, tb.iou AS best_val_test_iou,"           \
  " tb.iou_fg AS best_val_test_iou_fg"

const cb_export_query CB_EXPORT_QUERIES[] = {
    {"runs", "one row per run: configuration, status, progress, times, host, error",
     "SELECT " RUN_COLS(
         "r") ", r.name, r.status, r.epochs,"
              " (SELECT max(epoch) FROM epochs e WHERE e.run_id = r.id) AS epochs_done, r.attempts,"
              " r.optimizer, r.weight_decay, r.delta, r.width, r.image_h, r.image_w, r.data_source,"
              " r.worker, r.host, r.backend, r.git_rev,"
              " strftime('%Y-%m-%dT%H:%M:%SZ', r.started_at, 'unixepoch') AS started,"
              " strftime('%Y-%m-%dT%H:%M:%SZ', r.finished_at, 'unixepoch') AS finished, "
              "r.checkpoint, r.error, r.interruptions, r.data_fingerprint, r.sample_rate,"
              " r.dataset_size, r.sampling, r.dp_guarantee, " DP_STATUS(
                  "r") " AS dp_status,"
                       " r.dp_caveat FROM runs r WHERE " IN_SWEEP("r") " ORDER BY " RUN_ORDER("r")},

    {"epochs", "every epoch of every run with the run's fields (learning curves, epsilon)",
     "SELECT " RUN_COLS(
         "r") ", e.epoch, e.step, e.steps, e.train_loss, e.train_pixel_acc,"
              " e.val_loss, e.val_pixel_acc, e.val_dice, e.val_dice_fg, e.val_iou, e.val_iou_fg,"
              " e.epsilon, e.accountant, e.eps_rdp, e.eps_prv, e.eps_gdp, e.delta,"
              " e.clip_bound AS clip_bound_now, e.noise_multiplier AS noise_multiplier_now,"
              " e.frac_clipped, e.epoch_seconds, e.samples_per_s, e.expected_batch, "
              "e.realised_batch,"
              " e.lr AS lr_now FROM epochs e JOIN runs r ON r.id = e.run_id WHERE " IN_SWEEP(
                  "r") " ORDER BY " RUN_ORDER("r") ", e.epoch"},

    {"final", "the last epoch of each run (privacy-utility frontier, tables)",
     "SELECT " RUN_COLS(
         "r") ", r.status, e.epoch AS epochs_done, r.epochs, e.train_loss,"
              " e.val_loss, e.val_pixel_acc, e.val_dice, e.val_dice_fg, e.val_iou, e.val_iou_fg,"
              " e.epsilon, e.accountant, e.delta, e.noise_multiplier AS noise_multiplier_now,"
              " (SELECT sum(x.epoch_seconds) FROM epochs x WHERE x.run_id = r.id) AS train_seconds,"
              " (SELECT avg(x.samples_per_s) FROM epochs x WHERE x.run_id = r.id) AS "
              "samples_per_s," TEST_COLS
              ", " DP_STATUS("r") " AS dp_status, r.dp_caveat, r.sample_rate"
                                  " FROM runs r JOIN epochs e ON e.run_id = r.id AND e.epoch = "
                                  "(SELECT max(epoch) FROM"
                                  " epochs x WHERE x.run_id = r.id)" TEST_JOIN(
                                      "r") " WHERE " IN_SWEEP("r") " ORDER BY " RUN_ORDER("r")},

    /* One clause per line reads best here. */
    /* clang-format off */
    {"arms", "final metrics averaged over seeds per configuration (mean, sd, n; error bars)",
     "WITH f AS (SELECT r.*, e.val_dice, e.val_pixel_acc, e.val_loss, e.epsilon, e.train_loss,"
     " tf.dice AS test_dice, tf.dice_fg AS test_dice_fg, tb.dice AS best_val_test_dice,"
     " tb.dice_fg AS best_val_test_dice_fg, " DP_STATUS("r") " AS dp_status"
     " FROM runs r JOIN epochs e ON e.run_id = r.id AND e.epoch = (SELECT max(epoch) FROM"
     " epochs x WHERE x.run_id = r.id)" TEST_JOIN("r")
     " WHERE r.status = 'finished' AND " IN_SWEEP("r") ")"
     " SELECT " LABEL("f") " AS label, f.arch, f.clipping, f.noise_multiplier, f.target_epsilon,"
     " f.clip_bound, count(*) AS n, avg(f.val_dice) AS val_dice,"
     " sqrt(max(avg(f.val_dice * f.val_dice) - avg(f.val_dice) * avg(f.val_dice), 0) * count(*)"
     " / max(count(*) - 1, 1)) AS val_dice_sd, avg(f.val_pixel_acc) AS val_pixel_acc,"
     " sqrt(max(avg(f.val_pixel_acc * f.val_pixel_acc) - avg(f.val_pixel_acc) *"
     " avg(f.val_pixel_acc), 0) * count(*) / max(count(*) - 1, 1)) AS val_pixel_acc_sd,"
     " avg(f.val_loss) AS val_loss, avg(f.train_loss) AS train_loss, avg(f.epsilon) AS epsilon,"
     " avg(f.test_dice) AS test_dice, avg(f.test_dice_fg) AS test_dice_fg,"
     " avg(f.best_val_test_dice) AS best_val_test_dice,"
     " avg(f.best_val_test_dice_fg) AS best_val_test_dice_fg,"
     " group_concat(DISTINCT f.dp_status) AS dp_status"
     " FROM f GROUP BY f.arch, f.clipping, f.noise_multiplier, f.target_epsilon, f.clip_bound,"
     " f.lr, f.batch_size, f.epochs, f.sampling, f.sample_rate, f.dp_caveat"
     " ORDER BY f.arch, f.clipping, f.noise_multiplier, f.target_epsilon, f.clip_bound"},
    /* clang-format on */

    {"norms", "per-sample gradient norm percentiles per epoch with the clip bound in force",
     "SELECT " RUN_COLS(
         "r") ", e.epoch, e.clip_bound AS clip_bound_now, e.frac_clipped,"
              " e.norm_p10, e.norm_p25, e.norm_p50, e.norm_p75, e.norm_p90, e.norm_p99, e.norm_max"
              " FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.clipping <> 'none' "
              "AND " IN_SWEEP("r") " ORDER BY " RUN_ORDER("r") ", e.epoch"},

    {"layer_norms", "per-layer median (p90, max) gradient norms per epoch",
     "SELECT " RUN_COLS("r") ", l.epoch, l.layer, l.name, l.median, l.p90, l.max,"
                             " l.clip_bound AS clip_bound_now, l.frac_clipped FROM layer_norms l "
                             "JOIN runs r ON r.id ="
                             " l.run_id WHERE " IN_SWEEP("r") " ORDER BY " RUN_ORDER(
                                 "r") ", l.epoch, l.layer"},

    {"classes", "per-class Dice and IoU per evaluated epoch",
     "SELECT " RUN_COLS("r") ", c.epoch, c.class, c.dice, c.iou FROM epoch_classes c JOIN runs r"
                             " ON r.id = c.run_id WHERE " IN_SWEEP("r") " ORDER BY " RUN_ORDER(
                                 "r") ", c.epoch, c.class"},

    {"test_classes", "per-class Dice and IoU on the test split, final and best-validation weights",
     "SELECT " RUN_COLS("r") ", t.weights, m.epoch, t.class, t.dice, t.iou FROM test_classes t"
                             " JOIN test_metrics m ON m.run_id = t.run_id AND m.weights = t.weights"
                             " JOIN runs r ON r.id = t.run_id WHERE " IN_SWEEP(
                                 "r") " ORDER BY " RUN_ORDER("r") ", t.weights, t.class"},

    {"timing", "seconds per epoch and samples/s per run (mean, min, max), with host and backend",
     "SELECT " RUN_COLS(
         "r") ", r.width, r.image_h, r.image_w, r.backend, r.host,"
              " count(e.epoch) AS epochs_done, avg(e.epoch_seconds) AS epoch_seconds,"
              " min(e.epoch_seconds) AS epoch_seconds_min, max(e.epoch_seconds) AS "
              "epoch_seconds_max,"
              " avg(e.samples_per_s) AS samples_per_s, sum(e.epoch_seconds) AS train_seconds"
              " FROM runs r JOIN epochs e ON e.run_id = r.id WHERE " IN_SWEEP(
                  "r") " GROUP BY r.id ORDER BY " RUN_ORDER("r")},

    /* ---- the data behind the figures (the gnuplot scripts in plots/); a series is one
     * configuration over its seeds, summarised as mean with the min-max range ---- */

    {"curves", "per series (configuration over seeds) and epoch: mean/min/max of the curves",
     "WITH s AS (SELECT r.*, " TITLE("r") " AS series, " METHOD_RANK(
         "r") " AS method_rank FROM runs r"
              " WHERE " IN_SWEEP(
                  "r") ")"
                       " SELECT s.series, s.arch, s.clipping AS method, s.noise_multiplier AS "
                       "sigma,"
                       " s.target_epsilon, s.clip_bound, s.method_rank, e.epoch, count(*) AS n,"
                       " avg(e.train_loss) AS train_loss, min(e.train_loss) AS train_loss_min,"
                       " max(e.train_loss) AS train_loss_max, avg(e.val_loss) AS val_loss,"
                       " min(e.val_loss) AS val_loss_min, max(e.val_loss) AS val_loss_max,"
                       " avg(e.val_pixel_acc) AS val_acc, min(e.val_pixel_acc) AS val_acc_min,"
                       " max(e.val_pixel_acc) AS val_acc_max, avg(e.val_dice) AS val_dice,"
                       " min(e.val_dice) AS val_dice_min, max(e.val_dice) AS val_dice_max,"
                       " avg(e.epsilon) AS epsilon, avg(e.epoch_seconds) AS epoch_seconds"
                       " FROM epochs e JOIN s ON s.id = e.run_id"
                       " GROUP BY s.arch, s.clipping, s.noise_multiplier, s.target_epsilon, "
                       "s.clip_bound, s.lr,"
                       " s.batch_size, s.epochs, s.sampling, s.sample_rate, s.dp_caveat, e.epoch"
                       " ORDER BY s.arch, s.method_rank, s.noise_multiplier, s.target_epsilon, "
                       "s.clip_bound, e.epoch"},

    {"epsilon", "epsilon per epoch for each noise multiplier (private runs; mean/min/max)",
     "SELECT printf('σ = %g', r.noise_multiplier) AS series, r.noise_multiplier AS sigma,"
     " e.epoch, count(*) AS n, avg(e.epsilon) AS epsilon, min(e.epsilon) AS epsilon_min,"
     " max(e.epsilon) AS epsilon_max, max(e.accountant) AS accountant, avg(e.delta) AS delta"
     " FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.clipping <> 'none'"
     " AND e.epsilon IS NOT NULL AND r.noise_multiplier IS NOT NULL AND " IN_SWEEP(
         "r") " GROUP BY r.noise_multiplier, e.epoch ORDER BY r.noise_multiplier, e.epoch"},

    {"norm_bands", "per series and epoch: mean per-sample norm percentiles and the clip bound",
     "WITH s AS (SELECT r.*, " TITLE("r") " AS series, " METHOD_RANK(
         "r") " AS method_rank FROM runs r"
              " WHERE r.clipping <> 'none' AND " IN_SWEEP(
                  "r") ")"
                       " SELECT s.series, s.arch, s.clipping AS method, s.noise_multiplier AS "
                       "sigma, s.clip_bound,"
                       " s.method_rank, e.epoch, count(*) AS n, avg(e.norm_p10) AS p10, "
                       "avg(e.norm_p25) AS p25,"
                       " avg(e.norm_p50) AS p50, avg(e.norm_p75) AS p75, avg(e.norm_p90) AS p90,"
                       " avg(e.norm_p99) AS p99, avg(e.norm_max) AS pmax, avg(e.clip_bound) AS "
                       "clip_bound_now,"
                       " avg(e.frac_clipped) AS frac_clipped"
                       " FROM epochs e JOIN s ON s.id = e.run_id WHERE e.norm_p50 IS NOT NULL"
                       " GROUP BY s.arch, s.clipping, s.noise_multiplier, s.target_epsilon, "
                       "s.clip_bound, s.lr,"
                       " s.batch_size, s.epochs, s.sampling, s.sample_rate, s.dp_caveat, e.epoch"
                       " ORDER BY s.arch, s.method_rank, s.noise_multiplier, s.clip_bound, "
                       "e.epoch"},

    {"frontier", "final validation Dice and accuracy vs epsilon per method (one row per sigma)",
     "WITH f AS (SELECT r.*, e.val_dice, e.val_pixel_acc, e.epsilon, " METHOD_RANK(
         "r") " AS method_rank FROM runs r JOIN epochs e ON e.run_id = r.id AND e.epoch = (SELECT"
              " max(epoch) FROM epochs x WHERE x.run_id = r.id) WHERE r.status = 'finished' "
              "AND " IN_SWEEP(
                  "r") ")"
                       " SELECT " METHOD_TITLE(
                           "f") " || iif(f.clip_bound IS NULL, '', printf(' C=%g', f.clip_bound))"
                                " AS series, f.arch, f.clipping AS method, f.method_rank,"
                                " f.noise_multiplier AS sigma, f.clip_bound, count(*) AS n, "
                                "avg(f.epsilon) AS epsilon,"
                                " avg(f.val_dice) AS val_dice, min(f.val_dice) AS val_dice_min,"
                                " max(f.val_dice) AS val_dice_max, avg(f.val_pixel_acc) AS val_acc,"
                                " min(f.val_pixel_acc) AS val_acc_min, max(f.val_pixel_acc) AS "
                                "val_acc_max"
                                " FROM f GROUP BY f.arch, f.clipping, f.noise_multiplier, "
                                "f.target_epsilon, f.clip_bound,"
                                " f.lr, f.batch_size, f.epochs"
                                " ORDER BY f.arch, f.method_rank, f.clip_bound, "
                                "f.noise_multiplier"},

    {"method_time", "per architecture and method: seconds per epoch (mean, min, max) and per run",
     "WITH t AS (SELECT r.id, r.arch, r.clipping, " METHOD_RANK(
         "r") " AS method_rank,"
              " avg(e.epoch_seconds) AS sec, sum(e.epoch_seconds) AS total, count(*) AS epochs"
              " FROM runs r JOIN epochs e ON e.run_id = r.id WHERE " IN_SWEEP(
                  "r") " GROUP BY r.id)"
                       " SELECT " METHOD_TITLE(
                           "t") " AS series, t.arch, t.clipping AS method, t.method_rank,"
                                " dense_rank() OVER (ORDER BY t.arch) AS arch_rank, count(*) AS "
                                "runs, avg(t.sec) AS epoch_seconds, min(t.sec) AS "
                                "epoch_seconds_min,"
                                " max(t.sec) AS epoch_seconds_max, avg(t.total) AS run_seconds,"
                                " min(t.total) AS run_seconds_min, max(t.total) AS run_seconds_max"
                                " FROM t GROUP BY t.arch, t.clipping ORDER BY t.arch, "
                                "t.method_rank"},

    {"heatmap", "final Dice on a clip bound x sigma grid, for methods swept over both axes",
     "WITH f AS (SELECT r.*, e.val_dice FROM runs r JOIN epochs e ON e.run_id = r.id AND"
     " e.epoch = (SELECT max(epoch) FROM epochs x WHERE x.run_id = r.id)"
     " WHERE r.status = 'finished' AND r.clipping <> 'none' AND r.noise_multiplier IS NOT NULL"
     " AND " IN_SWEEP(
         "r") "),"
              " g AS (SELECT arch, clipping FROM f GROUP BY arch, clipping"
              " HAVING count(DISTINCT clip_bound) > 1 AND count(DISTINCT noise_multiplier) > 1)"
              " SELECT f.arch || '/' || f.clipping AS series, f.arch, f.clipping AS method, "
              "f.clip_bound,"
              " f.noise_multiplier AS sigma,"
              " dense_rank() OVER (PARTITION BY f.arch, f.clipping ORDER BY f.clip_bound) - 1 AS "
              "xi,"
              " dense_rank() OVER (PARTITION BY f.arch, f.clipping ORDER BY f.noise_multiplier) - "
              "1 AS yi,"
              " count(*) AS n, avg(f.val_dice) AS val_dice"
              " FROM f JOIN g ON g.arch = f.arch AND g.clipping = f.clipping"
              " GROUP BY f.arch, f.clipping, f.clip_bound, f.noise_multiplier"
              " ORDER BY f.arch, f.clipping, f.clip_bound, f.noise_multiplier"},
};
const int CB_N_EXPORT_QUERIES = (int)(sizeof CB_EXPORT_QUERIES / sizeof CB_EXPORT_QUERIES[0]);

const cb_export_query *cb_export_find(const char *name) {
  for (int i = 0; i < CB_N_EXPORT_QUERIES; i++)
    if (strcmp(CB_EXPORT_QUERIES[i].name, name) == 0) return &CB_EXPORT_QUERIES[i];
  return NULL;
}
