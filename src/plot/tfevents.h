/* tfevents: scalar metrics as TensorBoard event files, so `tensorboard --logdir` and W&B's TensorBoard
 * sync show halo-forge runs.
 *
 * A file is a sequence of TFRecords: uint64 length (little endian), masked CRC32C of those 8 bytes,
 * the payload, masked CRC32C of the payload. Each payload is an Event protobuf: wall_time (field 1,
 * double), step (2, int64) and either file_version (3, "brain.Event:2", the first record) or a Summary
 * (5) of Values {tag (1), simple_value (2, float)}. The protobuf encoding is written here; there is no
 * protobuf library involved.
 *
 * Files are named events.out.tfevents.<unix time>.<host>, as TensorBoard's own writer names them, inside
 * a folder that holds nothing else of ours: a new file replaces the event files already there, so the
 * folder always shows exactly one run (a resumed run replays what it kept, see tfev_replay_jsonl).
 *
 * Two modes: TFEV_STREAM removes the old files at once, then appends and flushes one record at a time (a
 * live run; a crash leaves at most a torn last record, which TensorBoard skips). TFEV_REPLACE writes a
 * hidden temporary file that tfev_close renames into place before it removes the old files (a file rebuilt
 * whole, e.g. after each RAFT cycle): readers see the old file or the new one, never a partial one. */
#ifndef HF_TFEVENTS_H
#define HF_TFEVENTS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tfev_writer tfev_writer;

typedef enum { TFEV_STREAM, TFEV_REPLACE } tfev_mode;

/* JSON key -> TensorBoard tag, for tfev_json; a table ends with {NULL, NULL}. */
typedef struct {
    const char *key;
    const char *tag;
} tfev_tag;

/* The training metrics lines of train_run (metrics.jsonl) under the tags Hugging Face's Trainer uses:
 * loss -> train/loss, lr -> train/learning_rate, grad_norm, epoch, tokens, tokens_per_sec -> train/...,
 * eval_loss -> eval/loss. */
extern const tfev_tag tfev_train_tags[];

/* Opens a writer on folder dir (created if missing); see the modes above for when the event files already
 * in dir go. Returns NULL with "DIR: reason" in err on failure. */
tfev_writer *tfev_open(const char *dir, tfev_mode mode, char *err, size_t errcap);

/* The path of the event file (final name), owned by the writer. */
const char *tfev_path(const tfev_writer *w);

/* One Event at step with n scalars (tags[i] = values[i]); wall_time in seconds since the epoch, <= 0 for
 * now. Non-finite values are skipped (TensorBoard cannot draw them). Returns 0, or -1 on a write error
 * (the writer then stays failed and later calls return -1). */
int tfev_scalars(tfev_writer *w, int64_t step, double wall_time, size_t n, const char *const *tags,
                 const double *values);
int tfev_scalar(tfev_writer *w, const char *tag, int64_t step, double wall_time, double value);

/* The numeric keys of obj named in tags, as one event at step = obj[step_key] (objects without a numeric
 * step_key are skipped: returns 0). Returns the number of scalars written, or -1 on a write error. */
int tfev_json(tfev_writer *w, const cJSON *obj, const char *step_key, const tfev_tag *tags, double wall_time);

/* tfev_json for each line of a JSONL file (missing file: 0; lines that are not JSON objects are skipped:
 * the file is a log the run itself wrote). Returns the number of events written or -1. */
long tfev_replay_jsonl(tfev_writer *w, const char *path, const char *step_key, const tfev_tag *tags);

/* For a command that writes a JSONL log and wants it mirrored live (train_run's metrics.jsonl): a STREAM
 * writer on dir with the lines already in jsonl replayed (a resumed run keeps them), then one event per
 * line written. Failures are warnings (the JSONL stays the record), never errors: tfev_follow_jsonl returns
 * NULL after logging why, tfev_follow_line logs a write error once, closes *w and sets it to NULL, and
 * both accept a NULL writer. */
tfev_writer *tfev_follow_jsonl(const char *dir, const char *jsonl, const tfev_tag *tags);
void tfev_follow_line(tfev_writer **w, const char *json_line, const tfev_tag *tags);
void tfev_follow_close(tfev_writer *w);

/* Closes the file (REPLACE: renames it into place and removes the other event files). Returns 0, or -1
 * when a write failed at any point (REPLACE: the previous files are then left as they were). NULL is fine. */
int tfev_close(tfev_writer *w);

/* CRC-32C (Castagnoli) of data, and TFRecord's masked form of a CRC. */
uint32_t tfev_crc32c(const void *data, size_t n);
uint32_t tfev_mask_crc(uint32_t crc);

/* Reading back (for `plot training` on a folder of event files, e.g. the original's trainer logs). */
typedef struct {
    char *tag;      /* heap */
    int64_t step;
    double wall_time;
    double value;
} tfev_point;

/* Reads every simple_value scalar of every event file in dir (sorted by file name) into *out (heap array
 * of n points; free with tfev_points_free). Records with a bad CRC or a torn tail end that file's reading
 * with a warning. Returns the number of points, or -1 with "PATH: reason" in err (no event file, or
 * unreadable). */
long tfev_read_dir(const char *dir, tfev_point **out, char *err, size_t errcap);
void tfev_points_free(tfev_point *p, long n);

#endif
