/* ui_jobs: validated launches of halo-forge commands as child processes, and their stopping. */
#include "ui/ui_jobs.h"

#include "core/fs.h"
#include "core/jsonl.h"
#include "core/timing.h"
#include "ui/ui_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the flag tables ---- */

typedef enum { F_INT, F_FLOAT, F_BOOL, F_CHOICE, F_MODEL, F_FILE } flag_type;

typedef struct {
    const char *name;
    flag_type type;
    bool required;
    double min, max;
    const char *choices; /* F_CHOICE: "a|b|c" */
    const char *help;
} flag_def;

#define END {NULL, 0, false, 0, 0, NULL, NULL}

/* Only the common flags: what changes a run's size and learning, never what runs other programs
 * (custom verifier commands, compilers) or reads other configuration (--config). */
static const flag_def bench_flags[] = {
    {"model", F_MODEL, true, 0, 0, NULL, "Model folder or Hub id"},
    {"cycles", F_INT, false, 0, 100, NULL, "RAFT cycles between the two evaluations"},
    {"samples-per-prompt", F_INT, false, 1, 1024, NULL, "Samples per prompt"},
    {"max-new-tokens", F_INT, false, 1, 32768, NULL, "Generated tokens per sample at most"},
    {"prompts", F_FILE, false, 0, 0, NULL, "Prompts JSONL instead of the 16 built-in C++ prompts"},
    {"verifier", F_CHOICE, false, 0, 0, "gcc|clang|execution|python|rust|go", "Verifier"},
    {"temperature", F_FLOAT, false, 0, 5, NULL, "Sampling temperature"},
    {"seed", F_INT, false, 0, 4294967295.0, NULL, "Random seed"},
    {"learning-rate", F_FLOAT, false, 1e-9, 1, NULL, "Learning rate of cycle 1"},
    {"batch-size", F_INT, false, 1, 4096, NULL, "Training sequences per micro-batch"},
    {"gradient-accumulation", F_INT, false, 1, 4096, NULL, "Micro-batches per optimizer step"},
    {"lora-rank", F_INT, false, 1, 1024, NULL, "LoRA rank"},
    {"no-lora", F_BOOL, false, 0, 0, NULL, "Full fine-tuning instead of LoRA"},
    {"workers", F_INT, false, 0, 256, NULL, "Verification workers (0: one per core)"},
    {"monitor-interval", F_FLOAT, false, 0.05, 3600, NULL, "Hardware monitor interval, seconds"},
    END,
};
static const flag_def raft_flags[] = {
    {"model", F_MODEL, true, 0, 0, NULL, "Base model folder or Hub id"},
    {"prompts", F_FILE, true, 0, 0, NULL, "Prompts JSONL"},
    {"cycles", F_INT, false, 1, 100, NULL, "RAFT cycles"},
    {"verifier", F_CHOICE, false, 0, 0, "gcc|clang|mingw|execution|python|humaneval|mbpp|rust|go", "Verifier"},
    {"run", F_BOOL, false, 0, 0, NULL, "Run programs after compiling"},
    {"samples-per-prompt", F_INT, false, 1, 1024, NULL, "Completions per prompt per cycle"},
    {"max-new-tokens", F_INT, false, 1, 32768, NULL, "Generated tokens per completion at most"},
    {"temperature", F_FLOAT, false, 0, 5, NULL, "Sampling temperature"},
    {"seed", F_INT, false, 0, 4294967295.0, NULL, "Random seed"},
    {"keep-percent", F_FLOAT, false, 0.001, 1, NULL, "Fraction of the samples above the threshold kept"},
    {"reward-threshold", F_FLOAT, false, 0, 1, NULL, "Minimum reward of a kept sample"},
    {"learning-rate", F_FLOAT, false, 1e-9, 1, NULL, "Learning rate of cycle 1"},
    {"batch-size", F_INT, false, 1, 4096, NULL, "Training sequences per micro-batch"},
    {"gradient-accumulation", F_INT, false, 1, 4096, NULL, "Micro-batches per optimizer step"},
    {"lora-rank", F_INT, false, 1, 1024, NULL, "LoRA rank"},
    {"no-lora", F_BOOL, false, 0, 0, NULL, "Full fine-tuning instead of LoRA"},
    {"workers", F_INT, false, 0, 256, NULL, "Verification workers (0: one per core)"},
    END,
};
static const flag_def sft_flags[] = {
    {"model", F_MODEL, true, 0, 0, NULL, "Base model folder"},
    {"data", F_FILE, true, 0, 0, NULL, "Training JSONL"},
    {"epochs", F_INT, false, 1, 1000, NULL, "Passes over the training data"},
    {"batch-size", F_INT, false, 1, 4096, NULL, "Sequences per micro-batch"},
    {"gradient-accumulation", F_INT, false, 1, 4096, NULL, "Micro-batches per optimizer step"},
    {"learning-rate", F_FLOAT, false, 1e-9, 1, NULL, "Peak learning rate"},
    {"lr-scheduler", F_CHOICE, false, 0, 0, "constant|linear|cosine", "Learning-rate schedule"},
    {"lora-rank", F_INT, false, 1, 1024, NULL, "LoRA rank"},
    {"no-lora", F_BOOL, false, 0, 0, NULL, "Full fine-tuning instead of LoRA"},
    {"max-steps", F_INT, false, 0, 1e9, NULL, "Stop after N optimizer steps (0: all epochs)"},
    {"max-seq-length", F_INT, false, 1, 1 << 20, NULL, "Truncate examples to N tokens"},
    {"save-steps", F_INT, false, 0, 1e9, NULL, "Checkpoint every N steps (0: only the final model)"},
    {"validation-split", F_FLOAT, false, 0, 0.9, NULL, "Fraction held out for the eval loss"},
    {"seed", F_INT, false, 0, 4294967295.0, NULL, "Random seed"},
    END,
};

typedef struct {
    const char *name;
    const char *words[2];
    const flag_def *flags;
} command_def;

static const command_def commands[] = {
    {"benchmark full", {"benchmark", "full"}, bench_flags},
    {"raft train", {"raft", "train"}, raft_flags},
    {"sft train", {"sft", "train"}, sft_flags},
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static const char *type_name(flag_type t) {
    switch (t) {
    case F_INT: return "int";
    case F_FLOAT: return "float";
    case F_BOOL: return "bool";
    case F_CHOICE: return "choice";
    case F_MODEL: return "model";
    case F_FILE: return "file";
    }
    return "?";
}

cJSON *ui_launch_schema(void) {
    cJSON *o = cJSON_CreateObject();
    for (size_t c = 0; c < N_COMMANDS; c++) {
        cJSON *arr = cJSON_AddArrayToObject(o, commands[c].name);
        for (const flag_def *f = commands[c].flags; f->name; f++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", f->name);
            cJSON_AddStringToObject(e, "type", type_name(f->type));
            cJSON_AddBoolToObject(e, "required", f->required);
            if (f->type == F_INT || f->type == F_FLOAT) {
                cJSON_AddNumberToObject(e, "min", f->min);
                cJSON_AddNumberToObject(e, "max", f->max);
            }
            if (f->choices) cJSON_AddStringToObject(e, "choices", f->choices);
            cJSON_AddStringToObject(e, "help", f->help);
            cJSON_AddItemToArray(arr, e);
        }
    }
    return o;
}

/* ---- validation ---- */

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A path the command may read: it must resolve inside the server's working folder or a run root (the
 * dashboard never hands a command a file elsewhere on the machine). */
static bool readable_place(const char *value, ui_roots *roots) {
    char *real = realpath(value, NULL);
    if (!real) return false;
    bool ok = false;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd)) {
        char *rc = realpath(cwd, NULL);
        if (rc) ok = ui_path_within(rc, real);
        free(rc);
    }
    for (int i = 0; i < roots->n && !ok; i++) {
        const char *r = ui_roots_real(roots, i);
        if (r) ok = ui_path_within(r, real);
    }
    free(real);
    return ok;
}

/* "org/name" with the Hub's characters: a model the command finds in the Hub cache or downloads. */
static bool hub_id_like(const char *s) {
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')) return false;
    if (s[0] == '.' || slash[1] == '.') return false;
    for (const char *p = s; *p; p++)
        if (!(*p == '/' || *p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z')))
            return false;
    return !strstr(s, "..");
}

static bool plain_text(const char *s) {
    if (!*s || *s == '-' || strlen(s) > 4096) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

static bool in_choices(const char *v, const char *choices) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static int push(strvec *s, const char *x) {
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        char **nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) return -1;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n] = strdup(x);
    if (!s->v[s->n]) return -1;
    s->v[++s->n] = NULL;
    return 0;
}

void ui_argv_free(char **argv) {
    for (char **p = argv; p && *p; p++) free(*p);
    free(argv);
}

/* One flag's value as argv text, checked against its definition. 0, 1 for a false bool (left out),
 * -1 with err. */
static int flag_value(const flag_def *f, const cJSON *v, ui_roots *roots, char *out, size_t cap, char *err,
                      size_t errcap) {
    switch (f->type) {
    case F_BOOL:
        if (!cJSON_IsBool(v)) return fail(err, errcap, "flags.%s: must be true or false", f->name);
        return cJSON_IsTrue(v) ? 0 : 1;
    case F_INT:
    case F_FLOAT: {
        double d;
        if (cJSON_IsNumber(v)) {
            d = v->valuedouble;
        } else if (cJSON_IsString(v) && *v->valuestring) {
            char *e;
            errno = 0;
            d = strtod(v->valuestring, &e);
            if (*e || errno) return fail(err, errcap, "flags.%s: '%s' is not a number", f->name, v->valuestring);
        } else {
            return fail(err, errcap, "flags.%s: must be a number", f->name);
        }
        if (!isfinite(d)) return fail(err, errcap, "flags.%s: must be a finite number", f->name);
        if (f->type == F_INT && d != floor(d)) return fail(err, errcap, "flags.%s: must be a whole number", f->name);
        if (d < f->min || d > f->max)
            return fail(err, errcap, "flags.%s: %g is outside [%g, %g]", f->name, d, f->min, f->max);
        if (f->type == F_INT) snprintf(out, cap, "%.0f", d);
        else snprintf(out, cap, "%.9g", d);
        return 0;
    }
    case F_CHOICE:
        if (!cJSON_IsString(v) || !in_choices(v->valuestring, f->choices))
            return fail(err, errcap, "flags.%s: must be one of %s", f->name, f->choices);
        snprintf(out, cap, "%s", v->valuestring);
        return 0;
    case F_MODEL:
    case F_FILE: {
        if (!cJSON_IsString(v) || !plain_text(v->valuestring))
            return fail(err, errcap, "flags.%s: must be a path (text, not starting with '-')", f->name);
        const char *s = v->valuestring;
        struct stat st;
        if (stat(s, &st) == 0) {
            if (f->type == F_FILE && !S_ISREG(st.st_mode)) return fail(err, errcap, "flags.%s: %s is not a file", f->name, s);
            if (f->type == F_MODEL && !S_ISDIR(st.st_mode))
                return fail(err, errcap, "flags.%s: %s is not a model folder", f->name, s);
            if (!readable_place(s, roots))
                return fail(err, errcap, "flags.%s: %s is outside the working folder and the run folders", f->name, s);
        } else if (f->type == F_FILE || !hub_id_like(s)) {
            return fail(err, errcap, "flags.%s: %s: no such %s", f->name, s, f->type == F_FILE ? "file" : "folder (or Hub id)");
        }
        snprintf(out, cap, "%s", s);
        return 0;
    }
    }
    return fail(err, errcap, "flags.%s: unknown type", f->name);
}

int ui_launch_argv(const cJSON *req, ui_roots *roots, const char *self_exe, char ***argv, char *out_dir,
                   size_t out_cap, char *run_id, size_t id_cap, char *err, size_t errcap) {
    *argv = NULL;
    if (!cJSON_IsObject(req)) return fail(err, errcap, "the request must be a JSON object");
    const char *cname = json_get_str(req, "command", NULL);
    const command_def *cmd = NULL;
    for (size_t c = 0; cname && c < N_COMMANDS; c++)
        if (!strcmp(cname, commands[c].name)) cmd = &commands[c];
    if (!cmd) return fail(err, errcap, "command: must be one of \"benchmark full\", \"raft train\", \"sft train\"");
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(req, "flags");
    if (flags && !cJSON_IsObject(flags)) return fail(err, errcap, "flags: must be an object");
    /* unknown flags are refused, not dropped */
    const cJSON *it;
    cJSON_ArrayForEach(it, flags) {
        bool known = false;
        for (const flag_def *f = cmd->flags; f->name; f++) known |= !strcmp(f->name, it->string);
        if (!known) return fail(err, errcap, "flags.%s: not a flag the dashboard can set for %s", it->string, cmd->name);
    }
    /* the output folder: a plain relative name inside a run root */
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(req, "root");
    long root_index = 0;
    if ((rj && !json_long_in(rj, 0, roots->n - 1, &root_index)) || root_index >= roots->n)
        return fail(err, errcap, "root: must be the index of a run folder (0..%d)", roots->n - 1);
    int root = (int)root_index;
    const char *output = json_get_str(req, "output", NULL);
    if (!output || !*output) return fail(err, errcap, "output: required (a folder name inside the run folder)");
    if (ui_path_check(output) != UI_PATH_OK || output[0] == '-')
        return fail(err, errcap, "output: '%s' must be a relative path without '.' or '..' components", output);
    for (const char *p = output; *p; p++)
        if (!(*p == '/' || *p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z')))
            return fail(err, errcap, "output: only letters, digits, '-', '_', '.' and '/' are allowed");
    if (fs_mkdirs(roots->given[root]) != 0)
        return fail(err, errcap, "root %d (%s): cannot create: %s", root, roots->given[root], strerror(errno));
    const char *rreal = ui_roots_real(roots, root);
    if (!rreal) return fail(err, errcap, "root %d (%s) does not exist", root, roots->given[root]);
    char target[PATH_MAX + UI_PATH_MAX + 2];
    snprintf(target, sizeof target, "%s/%s", rreal, output);
    /* every existing component must stay inside the root (no link out of it) */
    char probe[sizeof target];
    snprintf(probe, sizeof probe, "%s", target);
    for (;;) {
        char resolved[PATH_MAX];
        if (realpath(probe, resolved)) {
            if (!ui_path_within(rreal, resolved)) return fail(err, errcap, "output: '%s' leads outside the run folder", output);
            break;
        }
        char *slash = strrchr(probe, '/');
        if (!slash || (size_t)(slash - probe) <= strlen(rreal)) break;
        *slash = 0;
    }
    struct stat st;
    if (stat(target, &st) == 0 && !S_ISDIR(st.st_mode)) return fail(err, errcap, "output: '%s' is not a folder", output);
    snprintf(out_dir, out_cap, "%s", target);
    snprintf(run_id, id_cap, "%d/%s", root, output);

    strvec v = {0};
    bool bad = push(&v, self_exe) || push(&v, cmd->words[0]) || push(&v, cmd->words[1]);
    for (const flag_def *f = cmd->flags; f->name && !bad; f++) {
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(flags, f->name);
        if (!val || cJSON_IsNull(val) || (cJSON_IsString(val) && !*val->valuestring)) {
            if (f->required) {
                ui_argv_free(v.v);
                return fail(err, errcap, "flags.%s: required for %s", f->name, cmd->name);
            }
            continue;
        }
        char text[4200], flag[96];
        int r = flag_value(f, val, roots, text, sizeof text, err, errcap);
        if (r < 0) {
            ui_argv_free(v.v);
            return -1;
        }
        if (r == 1) continue; /* a false bool: the flag is left out */
        snprintf(flag, sizeof flag, "--%s", f->name);
        bad = push(&v, flag) || (f->type != F_BOOL && push(&v, text));
    }
    bad = bad || push(&v, "--output") || push(&v, target);
    if (bad) {
        ui_argv_free(v.v);
        return fail(err, errcap, "out of memory");
    }
    *argv = v.v;
    return 0;
}

/* ---- jobs ---- */

typedef struct job {
    int id;
    pid_t pid;
    char **argv;
    char *log_path, *run_id, *command;
    double started, ended;
    bool running;
    int exit_code, signal;
    pthread_t reaper;
    struct job *next;
    struct ui_jobs *owner;
} job;

struct ui_jobs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head;
    int next_id;
};

ui_jobs *ui_jobs_new(void) {
    ui_jobs *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->next_id = 1;
    return j;
}

static void *reap(void *arg) {
    job *b = arg;
    int st = 0;
    pid_t r;
    do r = waitpid(b->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    pthread_mutex_lock(&b->owner->mu);
    b->running = false;
    b->ended = time_wall();
    if (r == b->pid && WIFEXITED(st)) b->exit_code = WEXITSTATUS(st);
    else if (r == b->pid && WIFSIGNALED(st)) b->signal = WTERMSIG(st), b->exit_code = 128 + b->signal;
    pthread_cond_broadcast(&b->owner->cv);
    pthread_mutex_unlock(&b->owner->mu);
    return NULL;
}

static char **copy_argv(char *const *argv) {
    size_t n = 0;
    while (argv[n]) n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(argv[i]))) {
            ui_argv_free(c);
            return NULL;
        }
    return c;
}

int ui_jobs_start(ui_jobs *j, char *const *argv, const char *out_dir, const char *run_id, char *err, size_t errcap) {
    if (fs_mkdirs(out_dir) != 0) return fail(err, errcap, "%s: cannot create: %s", out_dir, strerror(errno));
    char log_path[PATH_MAX + 32];
    snprintf(log_path, sizeof log_path, "%s/%s", out_dir, UI_LAUNCH_LOG);
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) return fail(err, errcap, "%s: cannot open: %s", log_path, strerror(errno));
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* the log says what was run, one argument per quoted word */
    char head[8192];
    int w = snprintf(head, sizeof head, "== halo-forge ui: starting");
    for (char *const *a = argv + 1; *a && w >= 0 && (size_t)w < sizeof head; a++)
        w += snprintf(head + w, sizeof head - (size_t)w, " '%s'", *a);
    if (w >= 0 && (size_t)w < sizeof head - 1) head[w++] = '\n';
    if (w > 0 && write(logfd, head, (size_t)w) < 0) { /* the log is best effort */
    }
    job *b = calloc(1, sizeof *b);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%s %s", argv[1] ? argv[1] : "", argv[1] && argv[2] ? argv[2] : "");
    if (b) {
        b->argv = copy_argv(argv);
        b->log_path = strdup(log_path);
        b->run_id = strdup(run_id);
        b->command = strdup(cmd);
        b->owner = j;
    }
    if (!b || !b->argv || !b->log_path || !b->run_id || !b->command || nullfd < 0) {
        if (b) ui_argv_free(b->argv), free(b->log_path), free(b->run_id), free(b->command);
        free(b);
        close(logfd);
        if (nullfd >= 0) close(nullfd);
        return fail(err, errcap, "out of memory");
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the child starts with no handler of ours running */
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls from here to exec */
        setpgid(0, 0); /* a Ctrl-C at the dashboard's terminal is not the run's */
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        syscall(SYS_close_range, 3U, ~0U, 0U);
        struct sigaction dfl = {0};
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(b->argv[0], b->argv);
        static const char msg[] = "halo-forge ui: cannot execute the program\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
        }
        _exit(127);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(logfd);
    close(nullfd);
    if (pid < 0) {
        ui_argv_free(b->argv), free(b->log_path), free(b->run_id), free(b->command), free(b);
        return fail(err, errcap, "cannot start a process: %s", strerror(fork_errno));
    }
    setpgid(pid, pid); /* also from the parent, whichever runs first */
    pthread_mutex_lock(&j->mu);
    b->id = j->next_id++;
    b->pid = pid;
    b->running = true;
    b->started = time_wall();
    b->ended = NAN;
    b->next = j->head;
    j->head = b;
    int id = b->id;
    if (pthread_create(&b->reaper, NULL, reap, b) != 0) {
        /* nobody could reap it: it does not run at all */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        j->head = b->next;
        pthread_mutex_unlock(&j->mu);
        ui_argv_free(b->argv), free(b->log_path), free(b->run_id), free(b->command), free(b);
        return fail(err, errcap, "cannot start a thread");
    }
    pthread_mutex_unlock(&j->mu);
    return id;
}

static job *find(ui_jobs *j, int id) {
    for (job *b = j->head; b; b = b->next)
        if (b->id == id) return b;
    return NULL;
}

int ui_jobs_stop(ui_jobs *j, int id, char *err, size_t errcap) {
    pthread_mutex_lock(&j->mu);
    job *b = find(j, id);
    int rc = 0;
    if (!b) rc = fail(err, errcap, "no job %d", id);
    else if (!b->running) rc = fail(err, errcap, "job %d is not running (exit status %d)", id, b->exit_code);
    else if (kill(b->pid, SIGINT) != 0) rc = fail(err, errcap, "job %d: %s", id, strerror(errno));
    pthread_mutex_unlock(&j->mu);
    return rc;
}

cJSON *ui_jobs_list(ui_jobs *j) {
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&j->mu);
    for (job *b = j->head; b; b = b->next) {
        cJSON *o = cJSON_CreateObject(), *av = cJSON_AddArrayToObject(o, "argv");
        cJSON_AddNumberToObject(o, "job", b->id);
        cJSON_AddNumberToObject(o, "pid", b->pid);
        cJSON_AddStringToObject(o, "command", b->command);
        for (char **a = b->argv + 1; *a; a++) cJSON_AddItemToArray(av, cJSON_CreateString(*a));
        cJSON_AddStringToObject(o, "run_id", b->run_id);
        cJSON_AddStringToObject(o, "log", UI_LAUNCH_LOG);
        cJSON_AddBoolToObject(o, "running", b->running);
        if (b->running) cJSON_AddNullToObject(o, "exit_code");
        else cJSON_AddNumberToObject(o, "exit_code", b->exit_code);
        cJSON_AddNumberToObject(o, "signal", b->signal);
        cJSON_AddNumberToObject(o, "started_unix", b->started);
        if (isfinite(b->ended)) cJSON_AddNumberToObject(o, "ended_unix", b->ended);
        else cJSON_AddNullToObject(o, "ended_unix");
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&j->mu);
    return arr;
}

cJSON *ui_jobs_log(ui_jobs *j, int id, long offset, long max) {
    pthread_mutex_lock(&j->mu);
    job *b = find(j, id);
    char *path = b ? strdup(b->log_path) : NULL;
    bool running = b && b->running;
    pthread_mutex_unlock(&j->mu);
    if (!path) return NULL;
    if (offset < 0) offset = 0;
    if (max <= 0 || max > (1L << 20)) max = 1L << 20;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "job", id);
    cJSON_AddBoolToObject(o, "running", running);
    FILE *f = fopen(path, "rb");
    free(path);
    long size = 0;
    char *buf = NULL;
    size_t got = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        if (offset > size) offset = size;
        fseek(f, offset, SEEK_SET);
        long want = size - offset < max ? size - offset : max;
        buf = malloc((size_t)want + 1);
        got = buf ? fread(buf, 1, (size_t)want, f) : 0;
        fclose(f);
    }
    if (buf) buf[got] = 0;
    /* NUL bytes would cut the text short: shown as spaces */
    for (size_t i = 0; buf && i < got; i++)
        if (!buf[i]) buf[i] = ' ';
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    cJSON_AddNumberToObject(o, "next", (double)(offset + (long)got));
    cJSON_AddNumberToObject(o, "size", (double)size);
    cJSON_AddStringToObject(o, "text", buf ? buf : "");
    free(buf);
    return o;
}

void ui_jobs_free(ui_jobs *j, double wait_s) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    for (job *b = j->head; b; b = b->next)
        if (b->running) kill(b->pid, SIGINT);
    double until = time_now() + wait_s;
    for (;;) {
        bool any = false;
        for (job *b = j->head; b; b = b->next) any |= b->running;
        if (!any) break;
        if (time_now() >= until) {
            for (job *b = j->head; b; b = b->next)
                if (b->running) kill(b->pid, SIGKILL);
            until = time_now() + 3600;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    pthread_mutex_unlock(&j->mu);
    for (job *b = j->head, *n; b; b = n) {
        n = b->next;
        pthread_join(b->reaper, NULL);
        ui_argv_free(b->argv);
        free(b->log_path);
        free(b->run_id);
        free(b->command);
        free(b);
    }
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}
