// `falaj endpoints …`: serving endpoints of a project — list, get, create, update (replace
// targets and settings), delete, and status (each target's load state). Targets are given as
// MODEL:VERSION or MODEL@ALIAS, with an optional =WEIGHT (e.g. fraud:3=90 fraud@challenger=10).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddEndpointCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
