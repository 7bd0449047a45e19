// `falaj models …`: the model registry over the REST API. Models (create, list, get, delete);
// versions (register from a file or folder, list, get, verify, status, download); aliases
// (set, get, delete). Registering and downloading check every file's SHA-256 on the client too.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddModelCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
