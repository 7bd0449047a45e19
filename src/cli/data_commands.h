// `falaj sources …` and `falaj datasets …`: registering sources (from a YAML or JSON file),
// ingesting files and pushing JSON rows through them, and reading datasets — versions,
// statistics profiles, validation reports, downloads — over the REST API.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddDataCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
