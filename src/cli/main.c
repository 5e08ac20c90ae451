/* halo-forge: entry point. Parses the global flags, finds the command group and the command,
 * and hands over. Everything else lives in the modules; this file only routes. */
#include "kernels/matmul.h"
#include "cli/commands.h"
#include "core/log.h"
#include "dist/dist.h"

#include <stdio.h>
#include <string.h>

/* The command tree: one line per group, in the order help shows them. */
const cli_group cli_groups[] = {
    {"config", "Configuration files", NULL, cli_config_cmds},
    {"model", "Models: create random-initialised models, download from the Hub", NULL, cli_model_cmds},
    {"info", "Show the hardware, BLAS, GPUs and verifier toolchains of this machine", cmd_info, NULL},
    {"tokenizer", "Tokenizers: train a byte-level BPE tokenizer on a corpus", NULL, cli_tokenizer_cmds},
    {"tokenize", "Encode text into token ids, or decode ids into text", cmd_tokenize, NULL},
    {"score", "Log-probability of each token of a text under a model", cmd_score, NULL},
    {"generate", "Sample completions for prompts with a model", cmd_generate, NULL},
    {"data", "Training data: generate a verified C/C++ corpus", NULL, cli_data_cmds},
    {"sft", "Supervised fine-tuning (LoRA or full) on JSONL data", NULL, cli_sft_cmds},
    {"lora", "LoRA adapters: merge into the base model", NULL, cli_lora_cmds},
    {"raft", "RAFT training: sample, verify, keep the best, fine-tune, repeat", NULL, cli_raft_cmds},
    {"rl", "Policy-gradient RL (GRPO, DAPO, Dr. GRPO, RLOO) on verified rewards, beside RAFT", NULL, cli_rl_cmds},
    {"verify", "Compile and run code in the sandbox and grade it", cmd_verify, NULL},
    {"export", "Export a model for other tools: GGUF for llama.cpp / Ollama", NULL, cli_export_cmds},
    {"inference", "Inference latency: time to first token, per-token percentiles, tokens/s", NULL, cli_inference_cmds},
    {"benchmark", "Benchmarks: full (baseline, RAFT cycles, final), run / eval / score (pass@k)", NULL, cli_benchmark_cmds},
    {"plot", "Figures (PNG and SVG) of training runs and benchmark results", NULL, cli_plot_cmds},
    {"ui", "Web dashboard over the run folders: live charts, samples, compare, playground, launch/stop", cmd_ui, NULL},
    {"test", "Check the installation: smoke (toolchains, sandbox), standard / full (a model end to end)", cmd_test, NULL},
    {NULL, NULL, NULL, NULL},
};

static void print_main_help(void) {
    printf("Usage: halo-forge [-q|--quiet] [-v|--verbose] <command> [<subcommand>] [flags]\n\n"
           "RLVR training for code models: sample code, compile and run it in a sandbox, reward what\n"
           "works, fine-tune on the best samples (RAFT), and benchmark the result.\n\nCommands:\n");
    for (const cli_group *g = cli_groups; g->name; g++) {
        if (g->fn) {
            printf("  %-26s %s\n", g->name, g->summary);
            continue;
        }
        for (const cli_command *c = g->subs; c->name; c++) {
            char full[64];
            snprintf(full, sizeof full, "%s %s", g->name, c->name);
            printf("  %-26s %s\n", full, c->summary);
        }
    }
    printf("\nGlobal flags:\n  -q, --quiet      print nothing but errors on the terminal (logs are still written)\n"
           "  -v, --verbose    print debug detail\n  -h, --help       show this help\n"
           "  --version        print the version and the source revision it was built from\n\n"
           "Run 'halo-forge <command> --help' for the flags of a command.\n");
}

/* A rank whose command failed stops the whole job: the other ranks may be waiting in a collective for it,
 * and would wait forever. Every rank failing alike (a bad flag) ends the same way, with the first one's code. */
static int finish(int rc) {
    if (rc != 0 && dist_size() > 1) {
        char msg[96];
        snprintf(msg, sizeof msg, "the command failed (exit %d): stopping every rank", rc);
        dist_abort(rc, msg);
    }
    return rc;
}

int main(int argc, char **argv) {
    mm_threads_setup(argv); /* OMP_WAIT_POLICY=passive unless set: may re-execute the program */
    dist_init(&argc, &argv); /* under mpirun: one rank of a data-parallel run (src/dist/) */
    bool quiet = false, verbose = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = true;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { print_main_help(); return 0; }
        else if (!strcmp(a, "--version")) {
            printf("halo-forge %s\nsource revision: %s\n", HF_VERSION, HF_REVISION);
            return 0;
        }
        else {
            fprintf(stderr, "halo-forge: unknown global flag '%s'\nRun 'halo-forge --help' for usage.\n", a);
            return 2;
        }
    }
    log_set_terminal(quiet || !dist_is_root(), verbose && dist_is_root()); /* rank 0 alone logs */
    if (!dist_is_root() && !freopen("/dev/null", "w", stdout)) return 1; /* and alone prints results */
    if (i >= argc) {
        print_main_help();
        return 2;
    }
    const char *gname = argv[i];
    for (const cli_group *g = cli_groups; g->name; g++) {
        if (strcmp(g->name, gname) != 0) continue;
        if (g->fn) return finish(g->fn(argc - i, argv + i));
        if (i + 1 >= argc || !strcmp(argv[i + 1], "--help") || !strcmp(argv[i + 1], "-h")) {
            printf("Usage: halo-forge %s <subcommand> [flags]\n\n%s\n\nSubcommands:\n", g->name, g->summary);
            for (const cli_command *c = g->subs; c->name; c++) printf("  %-14s %s\n", c->name, c->summary);
            printf("\nRun 'halo-forge %s <subcommand> --help' for its flags.\n", g->name);
            return i + 1 >= argc ? 2 : 0;
        }
        for (const cli_command *c = g->subs; c->name; c++)
            if (!strcmp(c->name, argv[i + 1])) return finish(c->fn(argc - i - 1, argv + i + 1));
        fprintf(stderr, "halo-forge %s: unknown subcommand '%s'\nRun 'halo-forge %s --help' for the list.\n", g->name,
                argv[i + 1], g->name);
        return 2;
    }
    fprintf(stderr, "halo-forge: unknown command '%s'\nRun 'halo-forge --help' for the list of commands.\n", gname);
    return 2;
}
