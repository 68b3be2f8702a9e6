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

/* The configuration keys already named by LABEL and TITLE. */
#define STD_KEYS \
  "('model.arch', 'dp.clipping', 'dp.noise_multiplier', 'dp.target_epsilon', 'dp.clip_bound')"

/* What tells one configuration from another, from the runs' resolved
 * configs (the frozen expansion, arms and includes, as run). A key varies
 * when two runs in scope with the same LABEL (architecture, method, sigma,
 * target epsilon, C) differ in it: train.lr in a learning-rate sweep, not
 * model.bias when it follows the architecture's defaults. v_run has, per run
 * in scope, config_key (the config without seed and name: runs sharing it
 * differ only by seed, and only they are averaged), varies ("train.lr=0.01
 * model.width=8", the varying keys outside LABEL), facet_keys (the varying
 * keys a figure splits into figures of their own: those listed in :by,
 * comma-separated, or without :by all of varies) and series_keys (the other
 * keys of varies, named in legend entries). Arrays count as one value. */
// clang-format off
#define VARIANTS                                                                                   \
  "v_leaf AS (SELECT r.id AS run_id, " LABEL("r") " AS std,"                                       \
  " replace(substr(t.fullkey, 3), '\"', '') AS key, CASE t.type WHEN 'real' THEN"                  \
  " printf('%.15g', t.atom) WHEN 'integer' THEN CAST(t.atom AS TEXT) WHEN 'text' THEN t.atom"      \
  " WHEN 'array' THEN t.value ELSE t.type END AS value FROM runs r, json_tree(r.config) t"         \
  " WHERE t.type <> 'object' AND t.fullkey NOT LIKE '%]%'"                                         \
  " AND t.fullkey NOT IN ('$.seed', '$.name') AND " IN_SWEEP("r") "),"                             \
  " v_key AS (SELECT key, key NOT IN " STD_KEYS " AS extra, CASE WHEN :by IS NULL THEN"            \
  " key NOT IN " STD_KEYS " ELSE instr(',' || :by || ',', ',' || key || ',') > 0"                  \
  " AND key <> 'model.arch' END AS facet FROM (SELECT key, min(lo) <> max(hi) AS differ,"        \
  " max(within) AS within FROM (SELECT key, count(DISTINCT value) AS within, min(value) AS lo,"    \
  " max(value) AS hi FROM v_leaf GROUP BY key, std) GROUP BY key)"                                 \
  " WHERE within > 1 OR (key IN " STD_KEYS " AND differ)),"                                        \
  " v_kv AS (SELECT l.run_id, l.key || '=' || l.value AS kv, k.extra, k.facet FROM v_leaf l"       \
  " JOIN v_key k ON k.key = l.key ORDER BY l.run_id, l.key),"                                      \
  " v_run AS (SELECT r.id AS run_id, json_remove(r.config, '$.seed', '$.name') AS config_key,"     \
  " x.varies, x.facet_keys, x.series_keys FROM runs r LEFT JOIN (SELECT run_id,"                   \
  " group_concat(iif(extra, kv, NULL), ' ') AS varies, group_concat(iif(facet, kv, NULL), ' ')"    \
  " AS facet_keys, group_concat(iif(extra AND NOT facet, kv, NULL), ' ') AS series_keys"           \
  " FROM v_kv GROUP BY run_id) x ON x.run_id = r.id WHERE " IN_SWEEP("r") ")"
// clang-format on

/* A row's label: LABEL, then every other varying key. */
#define VLABEL(r, v) LABEL(r) " || coalesce('/' || replace(" v ".varies, ' ', '/'), '')"
/* A legend entry: TITLE, then the varying keys the figure does not split by. */
#define VTITLE(r, v) TITLE(r) " || coalesce(' ' || " v ".series_keys, '')"
/* A figure: the architecture and the keys split by; and a file-name form. */
#define FACET(r, v) r ".arch || coalesce(' ' || " v ".facet_keys, '')"
#define FACET_FILE(r, v)                                                                         \
  r ".arch || coalesce('_' || replace(replace(replace(replace(replace(replace(replace(replace("  \
    "replace(" v ".facet_keys, ' ', '_'), '=', '-'), '/', '_'), ',', '_'), '[', ''), ']', ''), " \
    "'\"', ''), ':', '_'), '%', '_'), '')"

/* Mean, sample sd (NULL for one value) and the half-width of the 95%
 * confidence interval of the mean (Student t; NULL for one value). */
#define SD(x)                                                                                  \
  "iif(count(" x ") > 1, sqrt(max(avg(" x " * " x ") - avg(" x ") * avg(" x "), 0) * count(" x \
  ") / (count(" x ") - 1)), NULL)"
#define T95(n)                                                                                   \
  "CASE " n " WHEN 2 THEN 12.706 WHEN 3 THEN 4.303 WHEN 4 THEN 3.182 WHEN 5 THEN 2.776 WHEN 6 "  \
  "THEN 2.571 WHEN 7 THEN 2.447 WHEN 8 THEN 2.365 WHEN 9 THEN 2.306 WHEN 10 THEN 2.262 WHEN 11 " \
  "THEN 2.228 WHEN 12 THEN 2.201 WHEN 13 THEN 2.179 WHEN 14 THEN 2.160 WHEN 15 THEN 2.145 WHEN " \
  "16 "                                                                                          \
  "THEN 2.131 ELSE iif(" n " <= 21, 2.12, iif(" n " <= 31, 2.08, iif(" n                         \
  " <= 61, 2.04, 2.0))) END"
#define CI95(x) "(" T95("count(" x ")") ") * " SD(x) " / sqrt(count(" x "))"

/* What a run's epsilon is: a DP guarantee, not one (and why), not recorded
 * (runs written before clipbench stored it), or a non-private run. */
#define GUARANTEE(r)                                                                           \
  "CASE WHEN " r ".clipping = 'none' THEN 'non-private' WHEN " r ".dp_guarantee = 1 THEN 'DP " \
  "guarantee' WHEN " r ".dp_guarantee = 0 THEN 'not a DP guarantee: ' || coalesce(" r          \
  ".dp_caveat, 'no reason recorded') ELSE 'not recorded' END"

/* The sampling the accountant assumed: as stored by the run, else as
 * configured. */
#define SAMPLING(r) "coalesce(" r ".sampling, json_extract(" r ".config, '$.train.sampling'))"

/* The test split of a run with its final (tf) and best-validation (tb)
 * weights: the columns that the queries showing final metrics append. */
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

#define RUN_COLS(r)                                                                \
  r ".id AS run_id, " VLABEL(r, "v") " AS label, " r ".arch, " r ".clipping, " r   \
                                     ".noise_multiplier, " r ".target_epsilon, " r \
                                     ".clip_bound, " r ".seed, " r ".lr, " r ".batch_size"

#define RUN_ORDER(r)                                                                            \
  r ".arch, " r ".clipping, " r ".noise_multiplier, " r ".target_epsilon, " r ".clip_bound, " r \
    ".lr, v.varies, " r ".seed, " r ".id"

// clang-format off
const cb_export_query CB_EXPORT_QUERIES[] = {
    {"runs", "one row per run: configuration, status, progress, times, host, error, DP setting",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", r.name, r.status, r.epochs,"
     " (SELECT max(epoch) FROM epochs e WHERE e.run_id = r.id) AS epochs_done, r.attempts,"
     " r.optimizer, r.weight_decay, r.delta, r.width, r.image_h, r.image_w, r.data_source,"
     " r.worker, r.host, r.backend, r.git_rev,"
     " strftime('%Y-%m-%dT%H:%M:%SZ', r.started_at, 'unixepoch') AS started,"
     " strftime('%Y-%m-%dT%H:%M:%SZ', r.finished_at, 'unixepoch') AS finished,"
     " r.checkpoint, r.error, v.varies, r.accountant, " SAMPLING("r") " AS sampling,"
     " r.sample_rate, r.dataset_size, r.dp_guarantee, r.dp_caveat, " GUARANTEE("r") " AS guarantee,"
     " r.interruptions,"
     " r.data_fingerprint FROM runs r JOIN v_run v ON v.run_id = r.id ORDER BY " RUN_ORDER("r")},

    {"epochs", "every epoch of every run with the run's fields (learning curves, epsilon)",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", e.epoch, e.step, e.steps, e.train_loss,"
     " e.train_pixel_acc, e.val_loss, e.val_pixel_acc, e.val_dice, e.val_dice_fg, e.val_iou,"
     " e.val_iou_fg, e.epsilon, e.accountant, e.eps_rdp, e.eps_prv, e.eps_gdp, e.eps_pld, e.delta,"
     " e.clip_bound AS clip_bound_now, e.noise_multiplier AS noise_multiplier_now,"
     " e.frac_clipped, e.epoch_seconds, e.samples_per_s, e.expected_batch, e.realised_batch,"
     " e.lr AS lr_now, v.varies FROM epochs e JOIN runs r ON r.id = e.run_id"
     " JOIN v_run v ON v.run_id = r.id ORDER BY " RUN_ORDER("r") ", e.epoch"},

    {"final", "the last epoch of each run with its DP setting and test scores (tables, frontier)",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", r.status, e.epoch AS epochs_done, r.epochs,"
     " e.train_loss, e.val_loss, e.val_pixel_acc, e.val_dice, e.val_dice_fg, e.val_iou,"
     " e.val_iou_fg, e.epsilon, e.accountant, e.delta, e.noise_multiplier AS noise_multiplier_now,"
     " (SELECT sum(x.epoch_seconds) FROM epochs x WHERE x.run_id = r.id) AS train_seconds,"
     " (SELECT avg(x.samples_per_s) FROM epochs x WHERE x.run_id = r.id) AS samples_per_s,"
     " v.varies, " SAMPLING("r") " AS sampling, r.sample_rate, r.dataset_size, e.step AS steps_total,"
     " r.dp_guarantee, r.dp_caveat," TEST_COLS ", r.error, " GUARANTEE("r") " AS guarantee,"
     " (SELECT a.epsilon_lb FROM audits a WHERE a.run_id = r.id) AS audit_epsilon_lb,"
     " (SELECT a.privacy_bug FROM audits a WHERE a.run_id = r.id) AS privacy_bug"
     " FROM runs r JOIN v_run v ON v.run_id = r.id JOIN epochs e ON e.run_id = r.id AND e.epoch ="
     " (SELECT max(epoch) FROM epochs x WHERE x.run_id = r.id)" TEST_JOIN("r")
     " ORDER BY " RUN_ORDER("r")},

    {"arms",
     "finished runs averaged over seeds, one row per configuration (every key but the seed): "
     "mean, sd, 95% CI, n, DP setting",
     "WITH " VARIANTS ", f AS (SELECT r.*, v.config_key, v.varies, " VLABEL("r", "v") " AS vlabel,"
     " " FACET("r", "v") " AS facet, e.val_dice, e.val_pixel_acc, e.val_loss, e.epsilon,"
     " e.train_loss, e.step AS steps_done, e.accountant AS eps_accountant, e.delta AS eps_delta,"
     " " SAMPLING("r") " AS sampling_used,"
     " tf.dice AS test_dice, tf.dice_fg AS test_dice_fg, tb.dice AS best_val_test_dice,"
     " tb.dice_fg AS best_val_test_dice_fg"
     " FROM runs r JOIN v_run v ON v.run_id = r.id JOIN epochs e ON e.run_id = r.id AND"
     " e.epoch = (SELECT max(epoch) FROM epochs x WHERE x.run_id = r.id)" TEST_JOIN("r")
     " WHERE r.status = 'finished')"
     " SELECT f.vlabel AS label, f.arch, f.clipping, f.noise_multiplier, f.target_epsilon,"
     " f.clip_bound, count(*) AS n, avg(f.val_dice) AS val_dice, " SD("f.val_dice") " AS"
     " val_dice_sd, avg(f.val_pixel_acc) AS val_pixel_acc, " SD("f.val_pixel_acc") " AS"
     " val_pixel_acc_sd, avg(f.val_loss) AS val_loss, avg(f.train_loss) AS train_loss,"
     " avg(f.epsilon) AS epsilon, " CI95("f.val_dice") " AS val_dice_ci95,"
     " " CI95("f.val_pixel_acc") " AS val_pixel_acc_ci95, f.varies, f.facet, f.lr, f.batch_size,"
     " f.epochs, max(f.eps_delta) AS delta, max(f.eps_accountant) AS accountant,"
     " f.sampling_used AS sampling, f.sample_rate, f.dataset_size, max(f.steps_done) AS steps,"
     " f.dp_guarantee, f.dp_caveat, avg(f.test_dice) AS test_dice, " CI95("f.test_dice") " AS"
     " test_dice_ci95, avg(f.test_dice_fg) AS test_dice_fg,"
     " avg(f.best_val_test_dice) AS best_val_test_dice,"
     " avg(f.best_val_test_dice_fg) AS best_val_test_dice_fg,"
     " group_concat(f.seed, ' ') AS seeds, " METHOD_RANK("f") " AS method_rank,"
     " " GUARANTEE("f") " AS guarantee"
     " FROM f GROUP BY f.config_key ORDER BY f.arch, " METHOD_RANK("f") ", f.noise_multiplier,"
     " f.target_epsilon, f.clip_bound, f.varies"},

    {"norms", "per-sample gradient norm percentiles per epoch with the clip bound in force",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", e.epoch, e.clip_bound AS clip_bound_now,"
     " e.frac_clipped, e.norm_p10, e.norm_p25, e.norm_p50, e.norm_p75, e.norm_p90, e.norm_p99,"
     " e.norm_max, v.varies FROM epochs e JOIN runs r ON r.id = e.run_id"
     " JOIN v_run v ON v.run_id = r.id WHERE r.clipping <> 'none'"
     " ORDER BY " RUN_ORDER("r") ", e.epoch"},

    {"layer_norms",
     "per clipping group (tensor or layer, as clipped) and epoch: median, p90, max per-sample "
     "norm, the bound in force and the fraction clipped",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", l.epoch, l.layer, l.name, l.median, l.p90,"
     " l.max, l.clip_bound AS clip_bound_now, l.frac_clipped, v.varies, l.scope"
     " FROM layer_norms l JOIN runs r ON r.id = l.run_id JOIN v_run v ON v.run_id = r.id"
     " ORDER BY " RUN_ORDER("r") ", l.epoch, l.layer"},

    {"classes", "per-class Dice and IoU per evaluated epoch",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", c.epoch, c.class, c.dice, c.iou, v.varies,"
     " (SELECT n.name FROM class_names n WHERE n.run_id = r.id AND"
     " n.class = c.class) AS class_name"
     " FROM epoch_classes c JOIN runs r ON r.id = c.run_id JOIN v_run v ON v.run_id = r.id"
     " ORDER BY " RUN_ORDER("r") ", c.epoch, c.class"},

    {"class_arms",
     "per configuration and class: Dice of the last evaluated epoch (validation) and of the "
     "test split where stored, mean and 95% CI over seeds",
     "WITH " VARIANTS ", f AS (SELECT r.*, v.config_key, " VLABEL("r", "v") " AS vlabel,"
     " " FACET("r", "v") " AS facet, " FACET_FILE("r", "v") " AS facet_file, c.class, c.dice, (SELECT t.dice FROM test_classes t WHERE t.run_id = r.id AND"
     " t.weights = 'final' AND t.class = c.class) AS test_dice FROM runs r JOIN v_run v"
     " ON v.run_id = r.id JOIN epoch_classes c ON c.run_id = r.id AND c.epoch = (SELECT"
     " max(epoch) FROM epoch_classes x WHERE x.run_id = r.id) WHERE r.status = 'finished')"
     " SELECT f.vlabel AS label, f.arch, f.clipping, f.noise_multiplier, f.clip_bound, f.class,"
     " (SELECT n.name FROM class_names n WHERE n.run_id = f.id AND"
     " n.class = f.class) AS class_name, count(*) AS n, avg(f.dice) AS val_dice,"
     " " CI95("f.dice") " AS val_dice_ci95, avg(f.test_dice) AS test_dice,"
     " " CI95("f.test_dice") " AS test_dice_ci95, " METHOD_RANK("f") " AS method_rank,"
     " f.facet, f.facet_file, f.noise_multiplier AS sigma"
     " FROM f GROUP BY f.config_key, f.class ORDER BY f.facet, " METHOD_RANK("f") ","
     " f.noise_multiplier, f.clip_bound, f.vlabel, f.class"},

    {"test_classes", "per-class Dice and IoU on the test split, final and best-validation weights",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", t.weights, m.epoch, t.class, t.dice, t.iou,"
     " v.varies FROM test_classes t JOIN test_metrics m ON m.run_id = t.run_id AND"
     " m.weights = t.weights JOIN runs r ON r.id = t.run_id JOIN v_run v ON v.run_id = r.id"
     " ORDER BY " RUN_ORDER("r") ", t.weights, t.class"},

    {"timing", "seconds per epoch and samples/s per run (mean, min, max), with host and backend",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", r.width, r.image_h, r.image_w, r.backend,"
     " r.host, count(e.epoch) AS epochs_done, avg(e.epoch_seconds) AS epoch_seconds,"
     " min(e.epoch_seconds) AS epoch_seconds_min, max(e.epoch_seconds) AS epoch_seconds_max,"
     " avg(e.samples_per_s) AS samples_per_s, sum(e.epoch_seconds) AS train_seconds, v.varies"
     " FROM runs r JOIN v_run v ON v.run_id = r.id JOIN epochs e ON e.run_id = r.id"
     " GROUP BY r.id ORDER BY " RUN_ORDER("r")},

    {"bounds",
     "per run: clipping groups whose bound never binds (no sample above it) or always binds "
     "(every sample above it), over the whole run and in its last epoch",
     "WITH " VARIANTS ", g AS (SELECT l.run_id, l.layer AS grp, l.scope, l.epoch, l.frac_clipped"
     " FROM layer_norms l WHERE l.scope IN ('tensor', 'layer') AND l.frac_clipped IS NOT NULL"
     " UNION ALL SELECT e.run_id, 0, 'model', e.epoch, e.frac_clipped FROM epochs e"
     " WHERE e.frac_clipped IS NOT NULL AND NOT EXISTS (SELECT 1 FROM layer_norms l WHERE"
     " l.run_id = e.run_id AND l.scope IN ('tensor', 'layer'))),"
     " last AS (SELECT run_id, max(epoch) AS epoch FROM g GROUP BY run_id),"
     " pg AS (SELECT g.run_id, g.grp, g.scope, max(g.frac_clipped) AS fmax, min(g.frac_clipped)"
     " AS fmin, max(iif(g.epoch = last.epoch, g.frac_clipped, NULL)) AS flast FROM g JOIN last"
     " ON last.run_id = g.run_id GROUP BY g.run_id, g.grp),"
     " pr AS (SELECT run_id, max(scope) AS scope, count(*) AS groups, sum(fmax = 0) AS"
     " never_binds, sum(fmin = 1) AS always_binds, sum(flast = 0) AS never_binds_last,"
     " sum(flast = 1) AS always_binds_last FROM pg GROUP BY run_id)"
     " SELECT " RUN_COLS("r") ", pr.scope, pr.groups, last.epoch AS last_epoch, pr.never_binds,"
     " pr.always_binds, pr.never_binds_last, pr.always_binds_last, v.varies FROM pr"
     " JOIN runs r ON r.id = pr.run_id JOIN last ON last.run_id = r.id"
     /* Automatic clipping rescales every gradient to about R whatever its norm: a bound
      * that "never binds" there means only that it scales up, so it is not warned about. */
     " JOIN v_run v ON v.run_id = r.id WHERE (pr.never_binds_last > 0 OR pr.always_binds_last > 0)"
     " AND r.clipping <> 'automatic'"
     " ORDER BY " RUN_ORDER("r")},

    /* ---- the data behind the figures (the gnuplot scripts in plots/); a series is one
     * configuration over its seeds, summarised as mean with the min-max range; a facet
     * (one figure) is an architecture and the varying keys split by (--by) ---- */

    {"curves", "per series (configuration over seeds) and epoch: mean/min/max of the curves",
     "WITH " VARIANTS ", s AS (SELECT r.*, " VTITLE("r", "v") " AS series, " METHOD_RANK("r")
     " AS method_rank, v.config_key, " FACET("r", "v") " AS facet, " FACET_FILE("r", "v")
     " AS facet_file FROM runs r JOIN v_run v ON v.run_id = r.id)"
     " SELECT s.series, s.arch, s.clipping AS method, s.noise_multiplier AS sigma,"
     " s.target_epsilon, s.clip_bound, s.method_rank, e.epoch, count(*) AS n,"
     " avg(e.train_loss) AS train_loss, min(e.train_loss) AS train_loss_min,"
     " max(e.train_loss) AS train_loss_max, avg(e.val_loss) AS val_loss,"
     " min(e.val_loss) AS val_loss_min, max(e.val_loss) AS val_loss_max,"
     " avg(e.val_pixel_acc) AS val_acc, min(e.val_pixel_acc) AS val_acc_min,"
     " max(e.val_pixel_acc) AS val_acc_max, avg(e.val_dice) AS val_dice,"
     " min(e.val_dice) AS val_dice_min, max(e.val_dice) AS val_dice_max,"
     " avg(e.epsilon) AS epsilon, avg(e.epoch_seconds) AS epoch_seconds, s.facet, s.facet_file"
     " FROM epochs e JOIN s ON s.id = e.run_id GROUP BY s.config_key, e.epoch"
     " ORDER BY s.facet, s.method_rank, s.noise_multiplier, s.target_epsilon, s.clip_bound,"
     " s.series, e.epoch"},

    {"epsilon",
     "cumulative epsilon per epoch for each noise multiplier and privacy setting (private runs)",
     "WITH " VARIANTS ", p AS (SELECT r.*, " SAMPLING("r") " AS sampling_cfg,"
     " json_extract(r.config, '$.data.count') AS data_count FROM runs r"
     " WHERE r.clipping <> 'none' AND r.noise_multiplier IS NOT NULL AND " IN_SWEEP("r") "),"
     " k AS (SELECT count(DISTINCT delta) > 1 AS d, count(DISTINCT batch_size) > 1 AS b,"
     " count(DISTINCT epochs) > 1 AS ep, count(DISTINCT sampling_cfg) > 1 AS sa,"
     " count(DISTINCT coalesce(data_count, -1)) > 1 AS dc, count(DISTINCT data_source) > 1 AS ds,"
     " count(DISTINCT coalesce(dataset_size, -1)) > 1 AS nn, count(DISTINCT accountant) > 1 AS ac"
     " FROM p)"
     " SELECT printf('σ = %g', p.noise_multiplier) || iif(k.d, printf(' δ=%g', p.delta), '')"
     " || iif(k.b, printf(' batch=%d', p.batch_size), '') || iif(k.ep, printf(' epochs=%d',"
     " p.epochs), '') || iif(k.sa, ' ' || p.sampling_cfg, '') || iif(k.dc, printf(' N=%s',"
     " p.data_count), '') || iif(k.ds, ' ' || p.data_source, '') || iif(k.nn, printf(' N=%d',"
     " p.dataset_size), '') || iif(k.ac, ' ' || p.accountant, '') AS series,"
     " p.noise_multiplier AS sigma, e.epoch, count(*) AS n, avg(e.epsilon) AS epsilon,"
     " min(e.epsilon) AS epsilon_min, max(e.epsilon) AS epsilon_max, max(e.accountant) AS"
     " accountant, avg(e.delta) AS delta, p.batch_size, p.epochs, p.sampling_cfg AS sampling,"
     " avg(e.step) AS steps, p.sample_rate, p.dataset_size, min(p.dp_guarantee) AS dp_guarantee"
     " FROM epochs e JOIN p ON p.id = e.run_id JOIN k"
     " WHERE e.epsilon IS NOT NULL GROUP BY p.noise_multiplier, p.delta, p.batch_size, p.epochs,"
     " p.sampling_cfg, p.data_count, p.data_source, p.dataset_size, p.accountant, e.epoch"
     " ORDER BY p.noise_multiplier, series, e.epoch"},

    {"norm_bands", "per series and epoch: mean per-sample norm percentiles and the clip bound",
     "WITH " VARIANTS ", s AS (SELECT r.*, " VTITLE("r", "v") " AS series, " METHOD_RANK("r")
     " AS method_rank, v.config_key, " FACET("r", "v") " AS facet, " FACET_FILE("r", "v")
     " AS facet_file FROM runs r JOIN v_run v ON v.run_id = r.id WHERE r.clipping <> 'none')"
     " SELECT s.series, s.arch, s.clipping AS method, s.noise_multiplier AS sigma, s.clip_bound,"
     " s.method_rank, e.epoch, count(*) AS n, avg(e.norm_p10) AS p10, avg(e.norm_p25) AS p25,"
     " avg(e.norm_p50) AS p50, avg(e.norm_p75) AS p75, avg(e.norm_p90) AS p90,"
     " avg(e.norm_p99) AS p99, avg(e.norm_max) AS pmax, avg(e.clip_bound) AS clip_bound_now,"
     " avg(e.frac_clipped) AS frac_clipped, s.facet, s.facet_file"
     " FROM epochs e JOIN s ON s.id = e.run_id WHERE e.norm_p50 IS NOT NULL"
     " GROUP BY s.config_key, e.epoch ORDER BY s.facet, s.method_rank, s.noise_multiplier,"
     " s.clip_bound, s.series, e.epoch"},

    {"group_norms",
     "per series and clipping group (tensor or layer as clipped), last epoch: median, p90, max "
     "per-sample norm, the group's bound in force and the fraction clipped (mean over seeds)",
     "WITH " VARIANTS ", s AS (SELECT r.*, " VTITLE("r", "v") " AS series, " METHOD_RANK("r")
     " AS method_rank, v.config_key, " FACET("r", "v") " AS facet, " FACET_FILE("r", "v")
     " AS facet_file FROM runs r JOIN v_run v ON v.run_id = r.id WHERE r.clipping <> 'none')"
     " SELECT s.series, s.arch, s.clipping AS method, s.noise_multiplier AS sigma, s.clip_bound,"
     " s.method_rank, l.layer AS grp, l.name, l.scope, max(l.epoch) AS epoch, count(*) AS n,"
     " avg(l.median) AS median, avg(l.p90) AS p90, avg(l.max) AS pmax, avg(l.clip_bound) AS"
     " bound, avg(l.frac_clipped) AS frac_clipped, s.facet, s.facet_file FROM layer_norms l"
     " JOIN s ON s.id = l.run_id WHERE l.epoch = (SELECT max(epoch) FROM layer_norms x WHERE"
     " x.run_id = l.run_id) GROUP BY s.config_key, l.layer ORDER BY s.facet, s.method_rank,"
     " s.noise_multiplier, s.clip_bound, s.series, l.layer"},

    {"frontier", "final validation Dice and accuracy vs epsilon per method (one row per sigma)",
     "WITH " VARIANTS ", f AS (SELECT r.*, e.val_dice, e.val_pixel_acc, e.epsilon, e.delta AS"
     " eps_delta, e.accountant AS eps_accountant, " METHOD_RANK("r") " AS method_rank,"
     " v.config_key, v.series_keys, " FACET("r", "v") " AS facet, " FACET_FILE("r", "v")
     " AS facet_file FROM runs r JOIN v_run v ON v.run_id = r.id JOIN"
     " epochs e ON e.run_id = r.id AND e.epoch = (SELECT max(epoch) FROM epochs x WHERE"
     " x.run_id = r.id) WHERE r.status = 'finished')"
     " SELECT " METHOD_TITLE("f") " || iif(f.clip_bound IS NULL, '', printf(' C=%g',"
     " f.clip_bound)) || coalesce(' ' || f.series_keys, '') AS series, f.arch, f.clipping AS"
     " method, f.method_rank, f.noise_multiplier AS sigma, f.clip_bound, count(*) AS n,"
     " avg(f.epsilon) AS epsilon, avg(f.val_dice) AS val_dice, min(f.val_dice) AS val_dice_min,"
     " max(f.val_dice) AS val_dice_max, avg(f.val_pixel_acc) AS val_acc,"
     " min(f.val_pixel_acc) AS val_acc_min, max(f.val_pixel_acc) AS val_acc_max,"
     " max(f.eps_delta) AS delta, max(f.eps_accountant) AS accountant, f.facet, f.facet_file"
     " FROM f GROUP BY f.config_key ORDER BY f.facet, f.method_rank, f.clip_bound,"
     " f.series_keys, f.noise_multiplier"},

    {"method_time",
     "per architecture and method (and varying keys): seconds per epoch (mean, min, max) and per "
     "run, and the ratio to the non-private runs of the same architecture and keys",
     "WITH " VARIANTS ", t AS (SELECT r.id, r.arch, r.clipping, " METHOD_RANK("r")
     " AS method_rank, v.varies, avg(e.epoch_seconds) AS sec, sum(e.epoch_seconds) AS total,"
     " count(*) AS epochs FROM runs r JOIN v_run v ON v.run_id = r.id JOIN epochs e ON"
     " e.run_id = r.id GROUP BY r.id),"
     " m AS (SELECT t.arch, t.varies, t.clipping, t.method_rank, count(*) AS runs, avg(t.sec) AS"
     " epoch_seconds, min(t.sec) AS epoch_seconds_min, max(t.sec) AS epoch_seconds_max,"
     " avg(t.total) AS run_seconds, min(t.total) AS run_seconds_min, max(t.total) AS"
     " run_seconds_max FROM t GROUP BY t.arch, t.varies, t.clipping)"
     " SELECT " METHOD_TITLE("m") " AS series, m.arch, m.clipping AS method, m.method_rank,"
     " dense_rank() OVER (ORDER BY m.arch, m.varies) AS arch_rank, m.runs, m.epoch_seconds,"
     " m.epoch_seconds_min, m.epoch_seconds_max, m.run_seconds, m.run_seconds_min,"
     " m.run_seconds_max, m.arch || coalesce(' ' || m.varies, '') AS facet,"
     " m.epoch_seconds / (SELECT np.epoch_seconds FROM m np WHERE np.clipping = 'none' AND"
     " np.arch = m.arch AND np.varies IS m.varies) AS overhead"
     " FROM m ORDER BY m.arch, m.varies, m.method_rank"},

    {"heatmap", "final Dice on a clip bound x sigma grid, for methods swept over both axes",
     "WITH " VARIANTS ", f AS (SELECT r.*, e.val_dice, v.config_key, r.arch || '/' || r.clipping"
     " || coalesce(' ' || v.varies, '') AS grp FROM runs r JOIN v_run v ON v.run_id = r.id JOIN"
     " epochs e ON e.run_id = r.id AND e.epoch = (SELECT max(epoch) FROM epochs x WHERE"
     " x.run_id = r.id) WHERE r.status = 'finished' AND r.clipping <> 'none' AND"
     " r.noise_multiplier IS NOT NULL),"
     " g AS (SELECT grp FROM f GROUP BY grp"
     " HAVING count(DISTINCT clip_bound) > 1 AND count(DISTINCT noise_multiplier) > 1)"
     " SELECT f.grp AS series, f.arch, f.clipping AS method, f.clip_bound,"
     " f.noise_multiplier AS sigma,"
     " dense_rank() OVER (PARTITION BY f.grp ORDER BY f.clip_bound) - 1 AS xi,"
     " dense_rank() OVER (PARTITION BY f.grp ORDER BY f.noise_multiplier) - 1 AS yi,"
     " count(*) AS n, avg(f.val_dice) AS val_dice"
     " FROM f JOIN g ON g.grp = f.grp GROUP BY f.config_key"
     " ORDER BY f.grp, f.clip_bound, f.noise_multiplier"},

    /* ---- the privacy audit (experiments/audit.h): an empirical lower bound held
     * against the accountant's epsilon, an upper bound ---- */

    {"audits",
     "one row per audited run: settings, correct guesses, epsilon lower bound "
     "(empirical, not a guarantee) and the accountant's epsilon",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", a.kind, a.canaries, a.included, a.guesses,"
     " a.correct, a.confidence, a.delta, a.epsilon_lb AS audit_epsilon_lb,"
     " a.epsilon, a.accountant, a.privacy_bug, a.seconds AS audit_seconds"
     " FROM audits a JOIN runs r ON r.id = a.run_id JOIN v_run v ON v.run_id = r.id"
     " ORDER BY " RUN_ORDER("r")},

    {"audit_canaries", "every canary of every audit: inclusion coin, score, guessed",
     "WITH " VARIANTS " SELECT " RUN_COLS("r") ", a.kind, c.canary, c.included, c.score,"
     " c.guessed FROM audit_canaries c JOIN audits a ON a.run_id = c.run_id"
     " JOIN runs r ON r.id = c.run_id JOIN v_run v ON v.run_id = r.id"
     " ORDER BY " RUN_ORDER("r") ", c.canary"},

    {"audit_bounds",
     "per method and sigma: audited epsilon lower bound (mean/min/max over seeds) and the "
     "accountant's epsilon; non-private runs as one row (sigma null): what the audit can prove",
     "WITH f AS (SELECT r.*, a.kind, a.epsilon_lb, a.epsilon AS eps_acc, a.privacy_bug,"
     " a.confidence, " METHOD_RANK("r") " AS method_rank FROM runs r JOIN audits a ON"
     " a.run_id = r.id WHERE (r.clipping = 'none' OR r.noise_multiplier IS NOT NULL) AND"
     " " IN_SWEEP("r") ")"
     " SELECT " METHOD_TITLE("f") " || ' (' || f.kind || ')' AS series, f.arch, f.clipping AS"
     " method, f.method_rank, f.kind, f.noise_multiplier AS sigma, count(*) AS n,"
     " avg(f.epsilon_lb) AS epsilon_lb, min(f.epsilon_lb) AS epsilon_lb_min,"
     " max(f.epsilon_lb) AS epsilon_lb_max, avg(f.eps_acc) AS epsilon, min(f.eps_acc) AS"
     " epsilon_min, max(f.eps_acc) AS epsilon_max, sum(f.privacy_bug) AS privacy_bugs,"
     " min(f.confidence) AS confidence FROM f GROUP BY f.arch, f.clipping, f.kind,"
     " f.noise_multiplier ORDER BY f.arch, f.method_rank, f.kind, f.noise_multiplier"},
};
// clang-format on
const int CB_N_EXPORT_QUERIES = (int)(sizeof CB_EXPORT_QUERIES / sizeof CB_EXPORT_QUERIES[0]);

const cb_export_query *cb_export_find(const char *name) {
  for (int i = 0; i < CB_N_EXPORT_QUERIES; i++)
    if (strcmp(CB_EXPORT_QUERIES[i].name, name) == 0) return &CB_EXPORT_QUERIES[i];
  return NULL;
}
