/* The run loop: claim, resume, train epoch by epoch, record, checkpoint. */
#include "experiments/runner.h"

#include "core/base/error.h"
#include "core/base/json.h"
#include "core/io/checkpoint.h"
#include "experiments/progress.h"
#include "experiments/trainer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEARTBEAT_S 15.0
#define STALE_GRACE_S 120.0

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

void cb_run_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int cb_run_interrupted(void) {
  return g_stop != 0;
}

void cb_run_best_path(const char *ckpt, char *out, size_t n) {
  const char *slash = strrchr(ckpt, '/');
  int dir = slash ? (int)(slash - ckpt) : 0;
  snprintf(out, n, "%.*s%sbest_val.safetensors", dir, ckpt, slash ? "/" : "");
}

const char *cb_run_dp_caveat(const cb_experiment *e, char *buf, size_t n) {
  if (e->dp.clipping == CB_CLIP_NONE) return NULL;
  const char *why[3];
  int k = 0;
  if (e->train.sampling == CB_SAMPLING_SHUFFLE)
    why[k++] = "train.sampling: shuffle (fixed-size shuffled batches; the accountant assumes "
               "Poisson sampling)";
  if (e->loss.reduction == CB_LOSS_REDUCTION_BATCH)
    why[k++] = "loss.reduction: batch (a sample's gradient depends on the other images of its "
               "batch, so clipping does not bound one sample's influence)";
  if (e->dp.clipping == CB_CLIP_RANDOM_SPARSIFICATION && e->dp.sparsification.as_published)
    why[k++] = "dp.sparsification.as_published (each noisy step sums the clipped gradients of "
               "two batches but is accounted as one batch at rate q)";
  if (!k) return NULL;
  size_t u = 0;
  buf[0] = 0;
  for (int i = 0; i < k && u < n; i++) {
    int w = snprintf(buf + u, n - u, "%s%s", i ? "; " : "", why[i]);
    if (w < 0) break;
    u += (size_t)w;
  }
  return buf;
}

void cb_run_checkpoint_path(const cb_experiment *e, const char *db, const char *id, char *out,
                            size_t n) {
  const char *dir = e->checkpoint.dir[0] ? e->checkpoint.dir : "checkpoints";
  if (dir[0] == '/') {
    snprintf(out, n, "%s/%s/checkpoint.safetensors", dir, id);
    return;
  }
  char base[4096];
  snprintf(base, sizeof base, "%s", db);
  char *slash = strrchr(base, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(base, sizeof base, ".");
  snprintf(out, n, "%s/%s/%s/checkpoint.safetensors", base, dir, id);
}

/* mkdir -p of the folder holding path. */
static int make_parent(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  char *end = strrchr(buf, '/');
  if (!end) return 0;
  *end = 0;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0777) && errno != EEXIST)
      return cb_error("cannot create folder %s: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) && errno != EEXIST)
    return cb_error("cannot create folder %s: %s (check checkpoint.dir)", buf, strerror(errno));
  return 0;
}

/* The previous checkpoint beside the current one, kept so that a damaged
 * current checkpoint costs checkpoint.every epochs, not the run. */
static void prev_path(const char *ckpt, char *out, size_t n) {
  size_t l = strlen(ckpt), ext = strlen(".safetensors");
  if (l > ext && strcmp(ckpt + l - ext, ".safetensors") == 0)
    snprintf(out, n, "%.*s.prev.safetensors", (int)(l - ext), ckpt);
  else
    snprintf(out, n, "%s.prev", ckpt);
}

/* A hard link renamed over the previous one, so that at every moment both
 * files exist (once written) and the current checkpoint stays in place until
 * the new one atomically replaces it; where links are not supported, a
 * rename (a kill before the new one is written then leaves only the
 * previous, which a resume uses). */
static int keep_previous(const char *ckpt) {
  char prev[4200], tmp[4300];
  prev_path(ckpt, prev, sizeof prev);
  snprintf(tmp, sizeof tmp, "%s.%ld", prev, (long)getpid());
  unlink(tmp);
  if (link(ckpt, tmp) == 0) {
    if (rename(tmp, prev) == 0) return 0;
    int e = errno;
    unlink(tmp);
    return cb_io_error(e, "cannot keep %s as %s", ckpt, prev);
  }
  if (errno == ENOENT) return 0; /* no checkpoint yet */
  if (rename(ckpt, prev) != 0 && errno != ENOENT)
    return cb_io_error(errno, "cannot keep %s as %s", ckpt, prev);
  return 0;
}

typedef struct {
  cb_store *s;
  const char *worker, *id;
  cb_progress *pg;
  double last_hb, t_epoch;
  int images;
  int batch;
} hook_ctx;

/* After every logical step: progress, heartbeat, interruption. */
static int step_hook(void *ctx, int step, int steps, double loss) {
  hook_ctx *h = ctx;
  double now = cb_now();
  h->images += h->batch;
  cb_progress_step(h->pg, step, steps, loss, h->images / fmax(now - h->t_epoch, 1e-9));
  if (now - h->last_hb > HEARTBEAT_S) {
    h->last_hb = now;
    if (cb_store_heartbeat(h->s, h->id, h->worker)) return -1;
  }
  if (g_stop) return cb_error("interrupted");
  return 0;
}

/* dp.accountants holds cb_accountant values. */
_Static_assert(CB_ACCT_RDP == (int)CB_ACC_RDP && CB_ACCT_PRV == (int)CB_ACC_PRV &&
                   CB_ACCT_GDP == (int)CB_ACC_GDP && CB_ACCT_PLD == (int)CB_ACC_PLD,
               "config accountant names must follow cb_accountant");

/* Epsilon of each configured accountant into the row. */
static void account(cb_trainer *t, cb_epoch_row *r, char *acc_name, size_t n) {
  const cb_experiment *e = t->e;
  r->delta = e->dp.delta;
  for (int k = 0; k < e->dp.n_accountants; k++) {
    cb_eps_result res;
    cb_accountant a = (cb_accountant)e->dp.accountants[k];
    if (cb_epsilon(&t->hist, a, e->dp.delta, &res)) continue;
    double *col[CB_ACC_COUNT] = {[CB_ACC_RDP] = &r->eps_rdp,
                                 [CB_ACC_PRV] = &r->eps_prv,
                                 [CB_ACC_GDP] = &r->eps_gdp,
                                 [CB_ACC_PLD] = &r->eps_pld};
    *col[a] = res.epsilon;
    if (k == 0) {
      r->epsilon = res.epsilon;
      snprintf(acc_name, n, "%s", cb_accountant_name(res.accountant));
      r->accountant = acc_name;
    }
  }
}

static void print_epoch_json(const char *id, const cb_epoch_row *r) {
  cb_json j;
  cb_json_init_file(&j, stdout);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "run_id", id);
  cb_json_kv_int(&j, "epoch", r->epoch);
  cb_json_kv_num(&j, "train_loss", r->train_loss);
  cb_json_kv_num(&j, "train_pixel_acc", r->train_pixel_acc);
  cb_json_kv_num(&j, "val_loss", r->val_loss);
  cb_json_kv_num(&j, "val_pixel_acc", r->val_pixel_acc);
  cb_json_kv_num(&j, "val_dice", r->val_dice);
  cb_json_kv_num(&j, "epsilon", r->epsilon);
  cb_json_kv_num(&j, "epoch_seconds", r->epoch_seconds);
  cb_json_kv_num(&j, "samples_per_s", r->samples_per_s);
  cb_json_kv_num(&j, "frac_clipped", r->frac_clipped);
  cb_json_kv_num(&j, "norm_p50", r->norm[CB_NORM_P50]);
  cb_json_obj_end(&j);
  printf("\n");
  fflush(stdout);
}

/* The privacy audit once training is complete (also when a run killed
 * after its last checkpoint resumes): scores, guesses, the bound, stored. */
static int audit(cb_store *s, cb_trainer *t, const cb_run_args *a) {
  cb_audit_row r;
  if (cb_audit_finish(t, &r) || cb_store_put_audit(s, t->id, &r)) return -1;
  if (a->json) {
    cb_json j;
    cb_json_init_file(&j, stdout);
    cb_json_obj_begin(&j);
    cb_json_kv_str(&j, "run", t->id);
    cb_json_kv_str(&j, "audit", r.kind);
    cb_json_kv_int(&j, "canaries", r.canaries);
    cb_json_kv_int(&j, "guesses", r.guesses);
    cb_json_kv_int(&j, "correct", r.correct);
    cb_json_kv_num(&j, "confidence", r.confidence);
    cb_json_kv_num(&j, "epsilon_lb", r.epsilon_lb);
    cb_json_kv_num(&j, "epsilon", r.epsilon);
    cb_json_kv_int(&j, "privacy_bug", r.privacy_bug);
    cb_json_obj_end(&j);
    printf("\n");
    fflush(stdout);
  }
  if (!a->quiet || r.privacy_bug) {
    char acc[96] = "non-private run: no upper bound";
    if (!isnan(r.epsilon)) snprintf(acc, sizeof acc, "%s epsilon %.3g", r.accountant, r.epsilon);
    fprintf(stderr,
            "%s: audit (%s canaries): %d of %d guesses right, epsilon lower bound %.3f at %g%% "
            "confidence (empirical, not a guarantee; %s)\n",
            t->id, r.kind, r.correct, r.guesses, r.epsilon_lb, 100 * r.confidence, acc);
    if (r.privacy_bug)
      fprintf(stderr,
              "%s: PRIVACY BUG: the audited lower bound %.3f exceeds the accountant's epsilon "
              "%.3f; this run is not as private as reported\n",
              t->id, r.epsilon_lb, r.epsilon);
  }
  return 0;
}

/* An evaluation's summary columns (pixel accuracy, Dice, Dice without
 * background, IoU, IoU without background) and its classes, for an epoch row
 * and a test row alike. */
static void eval_columns(const cb_eval_stats *ev, int K, double *const col[5], double *dice,
                         double *iou) {
  const cb_metrics *m = &ev->metrics;
  *col[0] = m->pixel_accuracy;
  *col[1] = m->mean_dice;
  *col[2] = m->mean_dice_fg;
  *col[3] = m->mean_iou;
  *col[4] = m->mean_iou_fg;
  for (int k = 0; k < K; k++) {
    dice[k] = m->dice[k];
    iou[k] = m->iou[k];
  }
}

/* The test split with the final weights and with the best-validation
 * checkpoint's, into test_metrics / test_classes. */
static int evaluate_test(cb_store *s, const char *worker, cb_trainer *t, const char *ckpt) {
  if (t->n_test < 1) return 0; /* no test split configured: nothing to measure */
  int K = t->e->model.classes;
  double dice[CB_DATA_MAX_CLASSES], iou[CB_DATA_MAX_CLASSES];
  for (int pass = 0; pass < 2; pass++) {
    cb_test_row r;
    memset(&r, 0, sizeof r);
    r.weights = pass ? "best_val" : "final";
    r.epoch = t->epochs_done;
    if (pass) {
      if (t->best_val_epoch < 1) break; /* never evaluated on validation */
      r.epoch = t->best_val_epoch;
      if (t->best_val_epoch != t->epochs_done) {
        char best[4096];
        cb_run_best_path(ckpt, best, sizeof best);
        if (cb_trainer_restore(t, best))
          return cb_error_prefix("the best-validation checkpoint (epoch %d): ", r.epoch);
        if (t->epochs_done != r.epoch)
          return cb_error("%s holds epoch %d, not the best-validation epoch %d; delete it and "
                          "run again",
                          best, t->epochs_done, r.epoch);
      }
    }
    cb_eval_stats ev;
    if (cb_trainer_evaluate(t, 1, &ev)) return -1;
    r.loss = ev.loss;
    eval_columns(&ev, K, (double *const[5]){&r.pixel_acc, &r.dice, &r.dice_fg, &r.iou, &r.iou_fg},
                 dice, iou);
    r.n_classes = K;
    r.class_dice = dice;
    r.class_iou = iou;
    if (cb_store_put_test(s, t->id, worker, &r)) return -1;
  }
  return 0;
}

/* Trains the remaining epochs and records each. */
static int train(cb_store *s, const char *worker, cb_trainer *t, const cb_run_args *a,
                 const char *ckpt) {
  const cb_experiment *e = t->e;
  cb_progress pg;
  cb_progress_start(&pg,
                    a->label     ? a->label
                    : e->name[0] ? e->name
                                 : t->id,
                    e->train.epochs, t->epochs_done, a->quiet);
  int K = e->model.classes;
  double dice[CB_DATA_MAX_CLASSES], iou[CB_DATA_MAX_CLASSES];
  int max_groups = t->dp ? cb_dp_stats_max_groups(t->dp) : 0;
  cb_dp_group_stats *groups = cb_calloc((size_t)max_groups + 1, sizeof *groups, "layer norms");
  cb_layer_norm_row *layers = cb_calloc((size_t)max_groups + 1, sizeof *layers, "layer norms");
  if (!groups || !layers) {
    free(groups);
    free(layers);
    return -1;
  }
  /* What the per-class scores are of ("fluid", ...), for tables. */
  const char *cls[CB_DATA_MAX_CLASSES];
  char cbuf[CB_DATA_MAX_CLASSES][32];
  for (int k = 0; k < K && k < CB_DATA_MAX_CLASSES; k++)
    cls[k] = cb_dataset_class_name(&t->data, k, cbuf[k], sizeof cbuf[k]);
  int rc =
      cb_store_put_class_names(s, t->id, K < CB_DATA_MAX_CLASSES ? K : CB_DATA_MAX_CLASSES, cls);
  char np[32];
  snprintf(np, sizeof np, "%lld", (long long)t->m->n_params);
  if (!rc) rc = cb_store_set_run_field(s, t->id, "n_params", np);
  while (!rc && t->epochs_done < e->train.epochs) {
    hook_ctx h = {s, worker, t->id, &pg, cb_now(), cb_now(), 0, (int)round(t->expected_batch)};
    cb_epoch_stats st;
    double t0 = cb_now();
    if (cb_trainer_epoch(t, &st, step_hook, &h)) {
      rc = -1;
      break;
    }
    double secs = cb_now() - t0;
    t->epochs_done++;
    int epoch = t->epochs_done;
    cb_epoch_row r;
    cb_epoch_row_init(&r);
    r.epoch = epoch;
    r.step = t->noisy_steps;
    r.steps = st.steps;
    r.train_loss = st.loss;
    r.train_pixel_acc = st.pixel_acc;
    r.expected_batch = t->expected_batch;
    r.realised_batch = st.realised_batch;
    r.lr = cb_trainer_lr(t, epoch - 1);
    if (epoch % e->eval.every == 0 || epoch == e->train.epochs) {
      cb_eval_stats ev;
      if (cb_trainer_evaluate(t, 0, &ev)) {
        rc = -1;
        break;
      }
      if (!isfinite(ev.loss)) {
        rc = cb_error("diverged at epoch %d: the validation loss is %g; lower train.lr", epoch,
                      ev.loss);
        break;
      }
      r.val_loss = ev.loss;
      eval_columns(&ev, K,
                   (double *const[5]){&r.val_pixel_acc, &r.val_dice, &r.val_dice_fg, &r.val_iou,
                                      &r.val_iou_fg},
                   dice, iou);
      r.n_classes = K;
      r.class_dice = dice;
      r.class_iou = iou;
    }
    /* The best validation Dice so far (ties keep the earlier epoch). */
    int new_best = !isnan(r.val_dice) && (isnan(t->best_val_dice) || r.val_dice > t->best_val_dice);
    if (new_best) {
      t->best_val_dice = r.val_dice;
      t->best_val_epoch = epoch;
    }
    r.epoch_seconds = secs;
    r.samples_per_s = st.images / fmax(secs, 1e-9);
    char acc[16] = "";
    if (t->private_run) {
      account(t, &r, acc, sizeof acc);
      r.clip_bound = st.clip_bound;
      r.noise_multiplier = t->sigma;
      r.frac_clipped = st.frac_clipped;
      for (int k = 0; k < CB_NPCT; k++)
        r.norm[k] = st.norm_pct[k];
      int ng = cb_dp_stats_groups(t->dp, groups);
      if (ng < 0) {
        rc = -1;
        break;
      }
      for (int g = 0; g < ng; g++)
        layers[g] = (cb_layer_norm_row){groups[g].name, groups[g].median, groups[g].p90,
                                        groups[g].max,  groups[g].bound,  groups[g].frac_clipped,
                                        groups[g].scope};
      r.n_layers = ng;
      r.layers = layers;
    }
    /* Rows first, then the checkpoint: every checkpointed epoch has rows. */
    if (cb_store_put_epoch(s, t->id, worker, &r)) {
      rc = -1;
      break;
    }
    /* The best-validation checkpoint before the latest one: a run resumed
     * from the latest one finds the best weights up to it. */
    if (new_best) {
      char best[4096];
      cb_run_best_path(ckpt, best, sizeof best);
      if (make_parent(best) || cb_trainer_save(t, best)) {
        rc = -1;
        break;
      }
    }
    if (epoch % e->checkpoint.every == 0 || epoch == e->train.epochs) {
      if (make_parent(ckpt) || keep_previous(ckpt) || cb_trainer_save(t, ckpt) ||
          cb_store_set_run_field(s, t->id, "checkpoint", ckpt)) {
        rc = -1;
        break;
      }
    }
    cb_progress_epoch(&pg, epoch, r.train_loss, r.val_loss, r.val_dice, r.epsilon, secs);
    if (a->json) print_epoch_json(t->id, &r);
    if (g_stop) {
      rc = cb_error("interrupted");
      break;
    }
  }
  cb_progress_end(&pg);
  free(groups);
  free(layers);
  if (rc == 0 && t->epochs_done == e->train.epochs && t->audit.m > 0) rc = audit(s, t, a);
  if (!rc && t->epochs_done == e->train.epochs) rc = evaluate_test(s, worker, t, ckpt);
  return rc;
}

int cb_run_claimed(cb_store *s, const char *worker, const cb_claim *c, const cb_experiment *e,
                   const cb_run_args *a) {
  cb_trainer t;
  char ckpt[4096];
  cb_run_checkpoint_path(e, cb_store_path(s), c->id, ckpt, sizeof ckpt);
  cb_store_set_run_field(s, c->id, "backend", CB_EXP_BACKEND_NAMES[e->backend]);
  int rc = cb_trainer_setup(&t, e, c->id);
  if (!rc && t.be) cb_store_set_run_field(s, c->id, "backend", t.be->name);
  /* Resume from the last checkpoint when there is one, else from the one
   * before it; a damaged one (checksum, truncation, a non-finite value) is
   * passed over, saying so. */
  char prev[4200];
  prev_path(ckpt, prev, sizeof prev);
  const char *cand[2] = {ckpt, prev};
  for (int k = 0; !rc && k < 2; k++) {
    if (access(cand[k], F_OK) != 0) continue;
    if (cb_checkpoint_verify(cand[k])) {
      int other = k == 0 && access(prev, F_OK) == 0;
      fprintf(stderr, "%s: %s; %s\n", c->id, cb_last_error(),
              other ? "resuming from the previous checkpoint instead"
                    : "training the run from the start instead");
      continue;
    }
    rc = cb_trainer_restore(&t, cand[k]);
    /* Rows are written before the checkpoint, so a checkpoint ahead of this
     * database's rows was written for another database in the same folder
     * (same configuration, same run id): start afresh instead of finishing
     * the run without rows. */
    if (!rc && t.epochs_done > c->epochs_done) {
      if (!a->quiet)
        fprintf(stderr,
                "%s: checkpoint %s is at epoch %d but %s has %d epochs of this run (it was "
                "written for another database); training from the start\n",
                c->id, cand[k], t.epochs_done, cb_store_path(s), c->epochs_done);
      cb_trainer_free(&t);
      rc = cb_trainer_setup(&t, e, c->id);
    } else if (!rc && k == 1 && !a->quiet) {
      fprintf(stderr, "%s: resumed from the previous checkpoint %s (epoch %d)\n", c->id, prev,
              t.epochs_done);
    }
    break;
  }
  /* The data this run trains on (after the resume check: a refused resume
   * leaves the fingerprint of the data it was started with). */
  if (!rc) rc = cb_store_set_run_field(s, c->id, "data_fingerprint", t.data_fp);
  if (!rc) {
    char why[1024];
    const char *caveat = cb_run_dp_caveat(e, why, sizeof why);
    cb_run_sampling rs = {t.q, t.n_train, CB_SAMPLING_NAMES[e->train.sampling],
                          !t.private_run ? -1
                          : caveat       ? 0
                                         : 1,
                          caveat};
    rc = cb_store_set_run_sampling(s, c->id, worker, &rs);
  }
  if (!rc) rc = train(s, worker, &t, a, ckpt);
  cb_trainer_free(&t);
  if (rc == 0) return cb_store_finish(s, c->id, worker);
  char why[CB_ERRMSG_MAX];
  snprintf(why, sizeof why, "%s", cb_last_error());
  int no_space = cb_last_error_code() == CB_EXIT_NOSPACE;
  if (g_stop && strcmp(why, "interrupted") == 0) {
    cb_store_release(s, c->id, worker);
    return cb_error_code(CB_EXIT_INTERRUPTED,
                         "run %s interrupted; it resumes from its last checkpoint when started "
                         "again",
                         c->id);
  }
  if (no_space) {
    /* Not the run's fault: give it back (an interruption, not an attempt)
     * so that running the same command again resumes it. If even that write
     * fails, the run stays held by this process, which a re-run on this
     * machine takes back at once. */
    cb_store_release(s, c->id, worker);
    return cb_error_code(CB_EXIT_NOSPACE, "run %s stopped, given back to resume later: %s", c->id,
                         why);
  }
  cb_store_fail(s, c->id, worker, why);
  return cb_error("run %s failed: %s", c->id, why);
}

/* A run left "running" by a process of this host that no longer exists is
 * given back at once; others after the heartbeat grace period. */
static void reclaim_dead(cb_store *s, const char *id) {
  cb_run_progress p;
  if (cb_store_progress(s, id, &p) || strcmp(p.status, "running") != 0) return;
  char me[256], host[256];
  cb_store_worker_name(me, sizeof me);
  const char *colon = strrchr(p.worker, ':');
  if (colon) {
    snprintf(host, sizeof host, "%.*s", (int)(colon - p.worker), p.worker);
    const char *mc = strrchr(me, ':');
    long pid = strtol(colon + 1, NULL, 10);
    if (mc && (size_t)(mc - me) == strlen(host) && strncmp(me, host, strlen(host)) == 0 &&
        pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      cb_store_requeue(s, id, p.worker); /* it died holding the run: the attempt counts */
      return;
    }
  }
  cb_store_requeue_stale(s, STALE_GRACE_S, 0, NULL);
}

int cb_run_experiment(const cb_experiment *e, const cb_run_args *a) {
  char id[CB_RUN_ID_LEN + 1];
  if (cb_exp_id(e, id)) return -1;
  /* The data first: a missing dataset leaves no run row (nor database). */
  if (cb_trainer_check_data(e))
    return cb_error_prefix("%s: data.path %s: ", a->file ? a->file : e->name, e->data.path);
  char *config = cb_exp_to_json(e, CB_EXP_JSON_FULL);
  if (!config) return -1;
  cb_store *s = cb_store_open(a->db, CB_STORE_CREATE);
  if (!s) {
    free(config);
    return -1;
  }
  int rc = cb_store_add_run(s, id, e->name, config, 0, 0, NULL, NULL);
  free(config);
  char worker[256];
  cb_store_worker_name(worker, sizeof worker);
  cb_claim c;
  memset(&c, 0, sizeof c);
  int got = rc ? -1 : cb_store_claim_run(s, id, worker, a->retry_failed, &c);
  if (got == 0 && strcmp(c.status, "running") == 0) {
    reclaim_dead(s, id);
    cb_claim_free(&c);
    memset(&c, 0, sizeof c);
    got = cb_store_claim_run(s, id, worker, a->retry_failed, &c);
  }
  if (got < 0) {
    rc = -1;
  } else if (got == 0) {
    if (strcmp(c.status, "finished") == 0) {
      if (!a->quiet) fprintf(stderr, "run %s is already finished in %s\n", id, a->db);
      rc = 0;
    } else {
      cb_run_progress p;
      int have = cb_store_progress(s, id, &p) == 0;
      rc = cb_error("run %s is %s%s%s; %s", id, c.status, have && p.worker[0] ? " by " : "",
                    have ? p.worker : "",
                    strcmp(c.status, "running") == 0
                        ? "wait for it, or stop that process (a dead worker's run is taken back "
                          "after its heartbeat is 2 minutes old)"
                        : "see clipbench status");
    }
  } else {
    cb_run_install_signals();
    rc = cb_run_claimed(s, worker, &c, e, a);
  }
  cb_claim_free(&c);
  cb_store_close(s);
  return rc;
}
