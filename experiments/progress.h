/* Progress for people on stderr: redrawn in place on a terminal, one plain
 * line per epoch otherwise (logs, CI, SLURM). */
#ifndef CB_EXPERIMENTS_PROGRESS_H
#define CB_EXPERIMENTS_PROGRESS_H

typedef struct {
  int quiet, tty;
  int epochs;
  int epoch;      /* current, 0-based */
  double t_start; /* wall clock at the start of this attempt */
  double t_epoch; /* wall clock at the start of the current epoch */
  int epochs_at_start;
  double last_draw;
  double epsilon; /* so far */
  char label[64];
} cb_progress;

double cb_now(void);
void cb_progress_start(cb_progress *p, const char *label, int epochs, int epochs_done, int quiet);
void cb_progress_step(cb_progress *p, int step, int steps, double loss, double samples_per_s);
void cb_progress_epoch(cb_progress *p, int epoch, double train_loss, double val_loss,
                       double val_dice, double epsilon, double seconds);
void cb_progress_end(cb_progress *p);

#endif
