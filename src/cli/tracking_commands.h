// `falaj experiments list|create|get` and `falaj runs list|get|compare`: experiment tracking over
// the native REST API (runs search with MLflow's filter language, paged to the end; runs compare
// as a table with a column per run and the differing params marked).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddTrackingCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
