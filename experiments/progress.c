#include "experiments/progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double cb_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fmt_time(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, n, "?");
  } else if (s < 120) {
    snprintf(buf, n, "%.0fs", s);
  } else if (s < 7200) {
    snprintf(buf, n, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
  } else {
    snprintf(buf, n, "%.0fh%02.0fm", floor(s / 3600), fmod(s / 60, 60));
  }
}

void cb_progress_start(cb_progress *p, const char *label, int epochs, int epochs_done, int quiet) {
  memset(p, 0, sizeof *p);
  p->quiet = quiet;
  p->tty = isatty(STDERR_FILENO);
  p->epochs = epochs;
  p->epoch = epochs_done;
  p->epochs_at_start = epochs_done;
  p->t_start = p->t_epoch = cb_now();
  p->epsilon = NAN;
  snprintf(p->label, sizeof p->label, "%s", label);
  if (!quiet && epochs_done > 0)
    fprintf(stderr, "%s: resuming after epoch %d of %d\n", p->label, epochs_done, epochs);
}

/* Remaining time from the epochs finished in this attempt. */
static double eta(const cb_progress *p, double frac_of_epoch) {
  double done = (p->epoch - p->epochs_at_start) + frac_of_epoch;
  if (done <= 0) return NAN;
  return (cb_now() - p->t_start) / done * ((p->epochs - p->epochs_at_start) - done);
}

void cb_progress_step(cb_progress *p, int step, int steps, double loss, double samples_per_s) {
  if (p->quiet || !p->tty) return;
  double now = cb_now();
  if (now - p->last_draw < 0.2 && step + 1 < steps) return;
  p->last_draw = now;
  char e[32];
  fmt_time(eta(p, (double)(step + 1) / steps), e, sizeof e);
  fprintf(stderr, "\r\033[K%s: epoch %d/%d step %d/%d loss %.4f", p->label, p->epoch + 1, p->epochs,
          step + 1, steps, loss);
  if (isfinite(p->epsilon)) fprintf(stderr, " eps %.3g", p->epsilon);
  fprintf(stderr, " %.1f img/s ETA %s", samples_per_s, e);
  fflush(stderr);
}

void cb_progress_epoch(cb_progress *p, int epoch, double train_loss, double val_loss,
                       double val_dice, double epsilon, double seconds) {
  p->epoch = epoch; /* epochs done */
  p->epsilon = epsilon;
  p->t_epoch = cb_now();
  if (p->quiet) return;
  char e[32];
  fmt_time(eta(p, 0.0), e, sizeof e);
  fprintf(stderr, "%s%s: epoch %d/%d train loss %.4f", p->tty ? "\r\033[K" : "", p->label, epoch,
          p->epochs, train_loss);
  if (isfinite(val_loss)) fprintf(stderr, " val loss %.4f dice %.3f", val_loss, val_dice);
  if (isfinite(epsilon)) fprintf(stderr, " eps %.3f", epsilon);
  fprintf(stderr, " (%.1fs, ETA %s)\n", seconds, e);
}

void cb_progress_end(cb_progress *p) {
  if (!p->quiet && p->tty) fprintf(stderr, "\r\033[K");
}
