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
#define IN_SWEEP(r)                                                                                \
  "(:sweep IS NULL OR " r ".id IN (SELECT sr.run_id FROM sweep_runs sr JOIN sweeps sw "            \
  "ON sw.id = sr.sweep_id WHERE sw.name = :sweep))"

/* A short series name for plot keys, e.g. "unet/flat/sigma=0.5/C=1". */
#define LABEL(r)                                                                                   \
  r ".arch || '/' || " r ".clipping || iif(" r ".noise_multiplier IS NULL, '', printf("            \
    "'/sigma=%g', " r ".noise_multiplier)) || iif(" r ".target_epsilon IS NULL, '', printf("       \
    "'/eps=%g', " r ".target_epsilon)) || iif(" r ".clip_bound IS NULL, '', printf('/C=%g', " r    \
    ".clip_bound))"

#define RUN_COLS(r)                                                                                \
  r ".id AS run_id, " LABEL(r) " AS label, " r ".arch, " r ".clipping, " r ".noise_multiplier, " r \
                               ".target_epsilon, " r ".clip_bound, " r ".seed, " r ".lr, " r       \
                               ".batch_size"

#define RUN_ORDER(r)                                                                               \
  r ".arch, " r ".clipping, " r ".noise_multiplier, " r ".target_epsilon, " r ".clip_bound, " r    \
    ".seed, " r ".id"

const cb_export_query CB_EXPORT_QUERIES[] = {
    {"runs", "one row per run: configuration, status, progress, times, host, error",
     "SELECT " RUN_COLS(
         "r") ", r.name, r.status, r.epochs,"
              " (SELECT max(epoch) FROM epochs e WHERE e.run_id = r.id) AS epochs_done, r.attempts,"
              " r.optimizer, r.weight_decay, r.delta, r.width, r.image_h, r.image_w, r.data_source,"
              " r.worker, r.host, r.backend, r.git_rev,"
              " strftime('%Y-%m-%dT%H:%M:%SZ', r.started_at, 'unixepoch') AS started,"
              " strftime('%Y-%m-%dT%H:%M:%SZ', r.finished_at, 'unixepoch') AS finished, "
              "r.checkpoint, r.error FROM runs r WHERE " IN_SWEEP("r") " ORDER BY " RUN_ORDER("r")},

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
              " (SELECT avg(x.samples_per_s) FROM epochs x WHERE x.run_id = r.id) AS samples_per_s"
              " FROM runs r JOIN epochs e ON e.run_id = r.id AND e.epoch = (SELECT max(epoch) FROM"
              " epochs x WHERE x.run_id = r.id) WHERE " IN_SWEEP("r") " ORDER BY " RUN_ORDER("r")},

    {"arms", "final metrics averaged over seeds per configuration (mean, sd, n; error bars)",
     "WITH f AS (SELECT r.*, e.val_dice, e.val_pixel_acc, e.val_loss, e.epsilon, e.train_loss"
     " FROM runs r JOIN epochs e ON e.run_id = r.id AND e.epoch = (SELECT max(epoch) FROM"
     " epochs x WHERE x.run_id = r.id) WHERE r.status = 'finished' AND " IN_SWEEP(
         "r") ")"
              " SELECT " LABEL(
                  "f") " AS label, f.arch, f.clipping, f.noise_multiplier, f.target_epsilon,"
                       " f.clip_bound, count(*) AS n, avg(f.val_dice) AS val_dice,"
                       " sqrt(max(avg(f.val_dice * f.val_dice) - avg(f.val_dice) * "
                       "avg(f.val_dice), 0) * count(*)"
                       " / max(count(*) - 1, 1)) AS val_dice_sd, avg(f.val_pixel_acc) AS "
                       "val_pixel_acc,"
                       " sqrt(max(avg(f.val_pixel_acc * f.val_pixel_acc) - avg(f.val_pixel_acc) *"
                       " avg(f.val_pixel_acc), 0) * count(*) / max(count(*) - 1, 1)) AS "
                       "val_pixel_acc_sd,"
                       " avg(f.val_loss) AS val_loss, avg(f.train_loss) AS train_loss, "
                       "avg(f.epsilon) AS epsilon"
                       " FROM f GROUP BY f.arch, f.clipping, f.noise_multiplier, f.target_epsilon, "
                       "f.clip_bound,"
                       " f.lr, f.batch_size, f.epochs ORDER BY f.arch, f.clipping, "
                       "f.noise_multiplier,"
                       " f.target_epsilon, f.clip_bound"},

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

    {"timing", "seconds per epoch and samples/s per run (mean, min, max), with host and backend",
     "SELECT " RUN_COLS(
         "r") ", r.width, r.image_h, r.image_w, r.backend, r.host,"
              " count(e.epoch) AS epochs_done, avg(e.epoch_seconds) AS epoch_seconds,"
              " min(e.epoch_seconds) AS epoch_seconds_min, max(e.epoch_seconds) AS "
              "epoch_seconds_max,"
              " avg(e.samples_per_s) AS samples_per_s, sum(e.epoch_seconds) AS train_seconds"
              " FROM runs r JOIN epochs e ON e.run_id = r.id WHERE " IN_SWEEP(
                  "r") " GROUP BY r.id ORDER BY " RUN_ORDER("r")},
};
const int CB_N_EXPORT_QUERIES = (int)(sizeof CB_EXPORT_QUERIES / sizeof CB_EXPORT_QUERIES[0]);

const cb_export_query *cb_export_find(const char *name) {
  for (int i = 0; i < CB_N_EXPORT_QUERIES; i++)
    if (strcmp(CB_EXPORT_QUERIES[i].name, name) == 0) return &CB_EXPORT_QUERIES[i];
  return NULL;
}
