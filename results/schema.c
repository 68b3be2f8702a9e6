/* The results schema as an ordered list of migrations. A database records
 * the migrations applied to it in schema_migrations; opening it applies the
 * missing ones in one transaction. Never edit a released migration: append a
 * new one (ALTER TABLE ... ADD COLUMN, CREATE TABLE/INDEX, data fixes), bump
 * nothing else, and add a fixture of the previous version to
 * tests/fixtures/ (see test_store.c).
 *
 * Conventions: times are unix seconds (REAL, UTC); NULL means "not
 * measured"; run ids are the 16-hex-digit config hashes; enum values are the
 * experiment file's spellings. */
#include "results/store_internal.h"

static const char V1[] =
    /* Sweeps: a named, frozen expansion of a sweep file. */
    "CREATE TABLE sweeps ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  file TEXT," /* path as given when it was frozen */
    "  spec TEXT," /* the sweep file's text at that time */
    "  created_at REAL NOT NULL"
    ");"
    /* Runs: one per distinct configuration (id = hash of the canonical
     * config). The main fields are copied from config into columns for
     * filtering and plotting. */
    "CREATE TABLE runs ("
    "  id TEXT PRIMARY KEY CHECK (length(id) = 16),"
    "  name TEXT NOT NULL,"
    "  config TEXT NOT NULL CHECK (json_valid(config)),"
    "  arch TEXT, width INTEGER, depth INTEGER, up TEXT,"
    "  data_source TEXT, image_h INTEGER, image_w INTEGER, classes INTEGER,"
    "  clipping TEXT NOT NULL,"
    "  noise_multiplier REAL," /* configured sigma; NULL when calibrated */
    "  target_epsilon REAL, clip_bound REAL, delta REAL,"
    "  accountant TEXT," /* primary accountant */
    "  optimizer TEXT, lr REAL, weight_decay REAL,"
    "  batch_size INTEGER, epochs INTEGER, seed INTEGER,"
    "  status TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (status IN ('pending', 'running', 'finished', 'failed')),"
    "  worker TEXT," /* host:pid of the current/last claim */
    "  host TEXT, backend TEXT, git_rev TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at REAL NOT NULL, started_at REAL, heartbeat_at REAL, finished_at REAL,"
    "  error TEXT,"
    "  checkpoint TEXT,"
    "  slurm_job_id TEXT, slurm_task_id INTEGER, slurm_log TEXT"
    ");"
    "CREATE INDEX runs_status ON runs (status);"
    /* Which runs a sweep consists of; a run shared by two sweeps runs once. */
    "CREATE TABLE sweep_runs ("
    "  sweep_id INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,"
    "  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL," /* position in the expansion (SLURM array index) */
    "  point TEXT,"           /* the grid values of this run, JSON */
    "  PRIMARY KEY (sweep_id, run_id),"
    "  UNIQUE (sweep_id, idx)"
    ");"
    "CREATE INDEX sweep_runs_run ON sweep_runs (run_id);"
    /* One row per finished epoch; val_* are NULL on epochs not evaluated. */
    "CREATE TABLE epochs ("
    "  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  step INTEGER, steps INTEGER,"
    "  train_loss REAL, train_pixel_acc REAL,"
    "  val_loss REAL, val_pixel_acc REAL, val_dice REAL, val_dice_fg REAL,"
    "  val_iou REAL, val_iou_fg REAL,"
    "  epoch_seconds REAL, samples_per_s REAL,"
    "  expected_batch REAL, realised_batch REAL,"
    "  epsilon REAL, accountant TEXT, eps_rdp REAL, eps_prv REAL, eps_gdp REAL, delta REAL,"
    "  clip_bound REAL, noise_multiplier REAL, frac_clipped REAL,"
    "  norm_p10 REAL, norm_p25 REAL, norm_p50 REAL, norm_p75 REAL, norm_p90 REAL,"
    "  norm_p99 REAL, norm_max REAL,"
    "  lr REAL,"
    "  written_at REAL NOT NULL,"
    "  PRIMARY KEY (run_id, epoch)"
    ") WITHOUT ROWID;"
    "CREATE TABLE epoch_classes ("
    "  run_id TEXT NOT NULL, epoch INTEGER NOT NULL, class INTEGER NOT NULL,"
    "  dice REAL, iou REAL,"
    "  PRIMARY KEY (run_id, epoch, class),"
    "  FOREIGN KEY (run_id, epoch) REFERENCES epochs (run_id, epoch) ON DELETE CASCADE"
    ") WITHOUT ROWID;"
    "CREATE TABLE layer_norms ("
    "  run_id TEXT NOT NULL, epoch INTEGER NOT NULL,"
    "  layer INTEGER NOT NULL," /* position in model order */
    "  name TEXT NOT NULL,"
    "  median REAL, p90 REAL, max REAL, clip_bound REAL, frac_clipped REAL,"
    "  PRIMARY KEY (run_id, epoch, layer),"
    "  FOREIGN KEY (run_id, epoch) REFERENCES epochs (run_id, epoch) ON DELETE CASCADE"
    ") WITHOUT ROWID;";

/* What a run's epsilon stands on, and the held-out test split. sample_rate
 * is the q the accountant was given, dataset_size the N it was derived from,
 * sampling 'poisson' or 'shuffle'; dp_guarantee is 0 for a run whose epsilon
 * is not a DP guarantee (dp_caveat says why: shuffled fixed-size batches,
 * a batch-level loss, ...). test_metrics holds the test split evaluated with
 * the final weights and with the best-validation ones. */
static const char V2[] =
    "ALTER TABLE runs ADD COLUMN sample_rate REAL;"
    "ALTER TABLE runs ADD COLUMN dataset_size INTEGER;"
    "ALTER TABLE runs ADD COLUMN sampling TEXT;"
    "ALTER TABLE runs ADD COLUMN dp_guarantee INTEGER CHECK (dp_guarantee IN (0, 1));"
    "ALTER TABLE runs ADD COLUMN dp_caveat TEXT;"
    "CREATE TABLE test_metrics ("
    "  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    "  weights TEXT NOT NULL CHECK (weights IN ('final', 'best_val')),"
    "  epoch INTEGER NOT NULL," /* the epoch whose weights were evaluated */
    "  loss REAL, pixel_acc REAL, dice REAL, dice_fg REAL, iou REAL, iou_fg REAL,"
    "  written_at REAL NOT NULL,"
    "  PRIMARY KEY (run_id, weights)"
    ") WITHOUT ROWID;"
    "CREATE TABLE test_classes ("
    "  run_id TEXT NOT NULL, weights TEXT NOT NULL, class INTEGER NOT NULL,"
    "  dice REAL, iou REAL,"
    "  PRIMARY KEY (run_id, weights, class),"
    "  FOREIGN KEY (run_id, weights) REFERENCES test_metrics (run_id, weights) ON DELETE CASCADE"
    ") WITHOUT ROWID;";

/* What the statistics explain themselves with. layer_norms.scope says what a
 * row's clip_bound bounds: 'tensor' or 'layer' (that group's own C_k, as
 * clipped by per_layer and per-layer automatic clipping) or 'model' (the
 * whole gradient's C; the row is one layer of it). class_names names the
 * classes a run was trained on (as its dataset named them: "fluid", ...);
 * runs.n_params the model's trainable parameter count. */
static const char V3[] = "ALTER TABLE runs ADD COLUMN n_params INTEGER;"
                         "ALTER TABLE layer_norms ADD COLUMN scope TEXT"
                         "  CHECK (scope IN ('tensor', 'layer', 'model'));"
                         "CREATE TABLE class_names ("
                         "  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
                         "  class INTEGER NOT NULL, name TEXT NOT NULL,"
                         "  PRIMARY KEY (run_id, class)"
                         ") WITHOUT ROWID;";

/* Reliability (issue 16). interruptions counts the claims of a run that
 * ended without a fault of the training (Ctrl-C, SIGTERM, a stopping sweep,
 * SLURM preemption or requeue, a full disk): attempts - interruptions is the
 * number of attempts that count against the retry limit. data_fingerprint is
 * the SHA-256 of the data a run trained on (images, masks and normalisation
 * statistics; see cb_trainer_data_fingerprint), checked when it resumes. */
static const char V4[] = "ALTER TABLE runs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;"
                         "ALTER TABLE runs ADD COLUMN data_fingerprint TEXT;";

/* Version 5: the PLD accountant's epsilon per epoch (NULL when the run did not
 * list pld in dp.accountants), next to eps_rdp, eps_prv and eps_gdp. */
static const char V5[] = "ALTER TABLE epochs ADD COLUMN eps_pld REAL;";

/* The privacy audit of a run (Steinke, Nasr and Jagielski 2023; see
 * experiments/audit.h): its settings, the guesses' outcome, the epsilon lower
 * bound at the stated confidence, the accountant's epsilon it is compared
 * with, and privacy_bug = 1 when the lower bound exceeds it. One row per
 * canary holds its inclusion coin, score and whether it was guessed. */
static const char V6[] =
    "CREATE TABLE audits ("
    "  run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('gradient', 'input')),"
    "  canaries INTEGER NOT NULL, included INTEGER NOT NULL,"
    "  guesses INTEGER NOT NULL, correct INTEGER NOT NULL,"
    "  confidence REAL NOT NULL, delta REAL NOT NULL,"
    "  epsilon_lb REAL NOT NULL,"      /* the audit's epsilon lower bound */
    "  epsilon REAL, accountant TEXT," /* the accountant's epsilon (NULL: non-private) */
    "  privacy_bug INTEGER NOT NULL CHECK (privacy_bug IN (0, 1)),"
    "  seconds REAL,"
    "  written_at REAL NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE audit_canaries ("
    "  run_id TEXT NOT NULL REFERENCES audits (run_id) ON DELETE CASCADE,"
    "  canary INTEGER NOT NULL,"
    "  included INTEGER NOT NULL CHECK (included IN (0, 1)),"
    "  score REAL NOT NULL,"
    "  guessed INTEGER NOT NULL CHECK (guessed IN (0, 1)),"
    "  PRIMARY KEY (run_id, canary)"
    ") WITHOUT ROWID;";

const cb_migration CB_MIGRATIONS[] = {
    {1, "sweeps, runs, sweep_runs, epochs, epoch_classes, layer_norms", V1},
    {2, "runs.sample_rate/dataset_size/sampling/dp_guarantee/dp_caveat, test_metrics, test_classes",
     V2},
    {3, "runs.n_params, layer_norms.scope, class_names", V3},
    {4, "runs.interruptions, runs.data_fingerprint", V4},
    {5, "epochs.eps_pld", V5},
    {6, "audits, audit_canaries (privacy audit in one run)", V6},
};
const int CB_N_MIGRATIONS = (int)(sizeof CB_MIGRATIONS / sizeof CB_MIGRATIONS[0]);
