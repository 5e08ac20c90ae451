/* sched: learning-rate schedules for the optimizer steps.
 *
 * Step s (0-based) of total steps, warmup W steps, peak learning rate P:
 *   warmup  (s < W):  P * (s + 1) / (W + 1)   -- never 0: the first step already learns
 *   after:   constant P; linear P * (1 - q); cosine P * (1 + cos(pi q)) / 2, with q = (s - W) / (total - W),
 *            so the last step's rate is still above 0. */
#ifndef HF_SCHED_H
#define HF_SCHED_H

typedef enum { SCHED_CONSTANT = 0, SCHED_LINEAR = 1, SCHED_COSINE = 2 } sched_kind;

/* "constant" | "linear" | "cosine"; -1 for anything else. */
int sched_parse(const char *name, sched_kind *out);
const char *sched_name(sched_kind k);
/* Warmup steps: warmup_steps when > 0, else ceil(ratio * total), never total or more. */
long sched_warmup(long warmup_steps, double ratio, long total);
float sched_lr(sched_kind k, float peak, long step, long warmup, long total);

#endif
