/* The command functions of the CLI. Each takes (argc, argv) with argv[0] its own name,
 * parses its flags with args_parse(), and returns the process exit code:
 * 0 success, 1 failure, 2 usage error. One file per command group: src/cli/cmd_<group>.c. */
#ifndef HF_CLI_COMMANDS_H
#define HF_CLI_COMMANDS_H

typedef int (*cli_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    const char *summary;
    cli_fn fn;
} cli_command;

typedef struct {
    const char *name;
    const char *summary;
    cli_fn fn;                /* for a group without subcommands, else NULL */
    const cli_command *subs;  /* NULL-terminated, for a group with subcommands */
} cli_group;

/* Subcommand tables of the groups, one per cmd_<group>.c file. */
extern const cli_command cli_config_cmds[];
extern const cli_command cli_model_cmds[];
extern const cli_command cli_benchmark_cmds[];
extern const cli_command cli_sft_cmds[];
extern const cli_command cli_lora_cmds[];
extern const cli_command cli_raft_cmds[];
extern const cli_command cli_rl_cmds[]; /* rl train (cmd_raft.c: the same loop and flags) */
extern const cli_command cli_tokenizer_cmds[];
extern const cli_command cli_data_cmds[];
extern const cli_command cli_plot_cmds[];
extern const cli_command cli_export_cmds[];
extern const cli_command cli_inference_cmds[];

/* Single commands joined into a group's table. */
int cli_model_download(int argc, char **argv); /* model download (cmd_model_download.c) */
int cli_benchmark_full(int argc, char **argv); /* benchmark full (cmd_benchmark_full.c) */
int cli_benchmark_run(int argc, char **argv);  /* benchmark run (cmd_benchmark_run.c) */
int cli_benchmark_eval(int argc, char **argv); /* benchmark eval (cmd_benchmark_run.c) */

/* Single commands (groups without subcommands). */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_ui(int argc, char **argv);

/* --device of a command with a model (cli_device.c): parses the flag "device" of a, chooses the device for
 * the model folder model_dir (NULL: size unknown) and says which on the console. Returns 0 with the choice in
 * *kind (a bk_device_kind), or 2 after printing "halo-forge CMD: why" (bad value, or cuda asked for and no
 * usable GPU). Call it before anything is written. */
struct args;
int cli_device_setup(const struct args *a, const char *cmd, const char *model_dir, int *kind);
/* The GPU backend cli_device_setup opened (the models' default backend; owned by cli_device.c, freed at
 * exit), or NULL when it chose the CPU. A training run passes it on: a second one cannot be opened. */
struct bk_backend;
struct bk_backend *cli_device_backend(void);
/* Where a command that trains runs its training, given cli_device_setup's *kind: *out = the GPU backend when
 * kind is CUDA and the backend has every training op, NULL for the CPU. Returns 0, or 2 after printing
 * "halo-forge CMD: --device X: why" (call it before anything is written). */
int cli_device_train_backend(const struct args *a, const char *cmd, int kind, struct bk_backend **out);

/* Defined in main.c: the whole command tree (for help and for `test`). */
extern const cli_group cli_groups[];

#endif
