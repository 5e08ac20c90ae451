/* The `model` command group: its subcommands live in cmd_model_<name>.c files. */
#include "cli/commands.h"

#include <stddef.h>

const cli_command cli_model_cmds[] = {
    {"download", "Download a model from the Hugging Face Hub into the cache", cli_model_download},
    {NULL, NULL, NULL},
};
