// `falaj projects create|list|get|delete`: projects over the REST API.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddProjectCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
