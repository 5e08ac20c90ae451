/* tblog: the TensorBoard events of raft train and benchmark full, rebuilt from the files those commands
 * write (tfevents.h does the encoding; train_run streams its own per-step events).
 *
 * raft train: DIR/tensorboard gets one event per finished cycle (step = cycle) from raft_statistics.json:
 *   raft/compile_rate, raft/success_rate, raft/avg_reward, raft/avg_kept_reward, raft/kept,
 *   raft/total_samples, raft/train_loss, raft/train_steps, raft/learning_rate, raft/elapsed_minutes,
 *   raft/generation_time_s, raft/verification_time_s, raft/training_time_s, raft/generated_tokens.
 *   The per-step training scalars are in DIR/cycle_N/tensorboard (train_run).
 * benchmark full: DIR/tensorboard gets eval/compile_rate, eval/pass_at_1, eval/pass_rate, eval/avg_reward,
 *   eval/tokens_per_sec at step 0 (baseline) and step n_cycles (final); cycle/compile_rate, cycle/pass_rate,
 *   cycle/avg_reward, cycle/kept, cycle/training_loss, cycle/cycle_time_sec at step = cycle; and
 *   hardware/<csv column> (cpu_util_pct, sys_mem_used_gb, rss_gb, gpu_util_pct, gpu_mem_used_gb,
 *   gpu_power_w, cpu_power_w, gpu_temp_c) for every hardware sample of every phase (step = sample number,
 *   wall time = the sample's timestamp).
 * Each rebuild replaces the folder's event file whole (TFEV_REPLACE). */
#ifndef HF_TBLOG_H
#define HF_TBLOG_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Rebuilds raft_dir/tensorboard from raft_dir/raft_statistics.json. 0, or -1 with err. */
int tblog_raft(const char *raft_dir, char *err, size_t errcap);

/* Writes dir/tensorboard for a finished benchmark full: summary (its summary.json object) and the phases'
 * hardware CSVs in dir. 0, or -1 with err. */
int tblog_benchmark(const char *dir, const cJSON *summary, char *err, size_t errcap);

#endif
