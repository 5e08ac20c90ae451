/* raft schedule: what changes from cycle to cycle: the learning rate, the warmup within a cycle,
 * and the reward threshold / keep fraction (reward shaping).
 *
 * Learning rate of cycle c (1-based): max(base x decay^(c-1), min_lr).
 * Within a cycle of T optimizer steps with W requested warmup steps, the warmup actually used is
 * min(W, T/4) (integer division), so a short cycle is never spent warming up; step s (0-based)
 * gets lr x (s+1)/(W'+1) during warmup, then decays linearly, lr x (T-s)/(T-W'), never reaching 0.
 * (The original used W = 10 with HF's schedule, whose first step has LR 0: with one or two steps
 * per cycle training did nothing.)
 *
 * Reward shaping returns (threshold, keep fraction) per cycle:
 *   fixed      the base values;
 *   warmup     (0.1, 0.8) for cycles <= warmup_cycles (default 1), then the base values;
 *   annealing  linear from (0.1, 0.8) at cycle 1 to the base values at the last cycle;
 *   adaptive   (0.1, 0.8) at cycle 1; cycle c+1 gets the base values (c = 1) or cycle c's values,
 *              moved by cycle c's outcome: kept < 50 or success rate < 0.15 -> threshold - 0.1 (floor 0.1),
 *              keep + 0.1 (cap 1.0); success rate > 0.45 -> threshold + 0.1 (cap 1.0),
 *              keep - 0.05 (floor 0.2). Exactly one adjustment per finished cycle. */
#ifndef HF_RAFT_SCHEDULE_H
#define HF_RAFT_SCHEDULE_H

#include <stdbool.h>

double raft_cycle_lr(double base_lr, double decay, int cycle, double min_lr);
/* Warmup steps used in a cycle of total_steps optimizer steps. */
long raft_cycle_warmup(long warmup_steps, long total_steps);
/* Learning rate at optimizer step `step` (0-based) of a cycle; warmup as returned by
 * raft_cycle_warmup. Always > 0 for 0 <= step < total_steps when lr > 0. */
double raft_step_lr(double lr, long step, long total_steps, long warmup);
/* Sampling temperature of cycle c: `temperature` when t_start or t_end is NAN (no schedule), else
 * linear from t_start at cycle 1 to t_end at cycle n_cycles (t_start when n_cycles <= 1). */
double raft_cycle_temperature(double temperature, double t_start, double t_end, int cycle, int n_cycles);

/* Optimizer steps of a cycle: ceil(samples / (batch x accumulation)) x epochs (0 when no samples). */
long raft_cycle_steps(long samples, long batch_size, long grad_accum, long epochs);

typedef enum { RAFT_SHAPING_FIXED, RAFT_SHAPING_WARMUP, RAFT_SHAPING_ANNEALING, RAFT_SHAPING_ADAPTIVE } raft_shaping_kind;

typedef struct {
    raft_shaping_kind kind;
    double base_threshold, base_keep;
    int warmup_cycles;  /* warmup: default 1 */
    int n_cycles;       /* annealing: the cycle that reaches the base values */
    /* adaptive state: the values for the next cycle, and the last cycle that adjusted them */
    double threshold, keep;
    int updated_cycle;
} raft_shaper;

int raft_shaping_parse(const char *name, raft_shaping_kind *out); /* fixed|warmup|annealing|adaptive */
const char *raft_shaping_name(raft_shaping_kind k);

void raft_shaper_init(raft_shaper *sh, raft_shaping_kind kind, double base_threshold, double base_keep, int n_cycles);
/* The (threshold, keep) of cycle c (1-based). Does not change the shaper. */
void raft_shaper_values(const raft_shaper *sh, int cycle, double *threshold, double *keep);
/* Records cycle c's outcome (kept samples, success rate); adaptive moves its values for cycle c+1.
 * A second call for the same or an earlier cycle is ignored (returns false). */
bool raft_shaper_update(raft_shaper *sh, int cycle, long kept, double success_rate);

#endif
