// `falaj jobs list|get|logs|cancel|run`, `falaj train` and `falaj tune`: submit and follow
// background jobs. `run` submits a command job (argv after `--`); `train` and `tune` submit the
// kinds "train" and "tune" with a YAML spec file. --wait follows the job with a progress bar
// (fraction and the job's message) and ends with its result; the exit code is 1 when the job
// did not succeed. Single-threaded.
#pragma once

#include "cli/command_table.h"

namespace falaj::cli {

void AddJobCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
