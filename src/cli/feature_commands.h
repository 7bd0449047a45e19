// `falaj apply -f DIR` (feature definitions as code: shows the changes, then applies them;
// --dry-run stops after showing) and `falaj features …` (definitions, versions, training sets,
// materialisation, online reads) over the REST API.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddFeatureCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
