// `falaj keys create|list|get|revoke|rotate`: API keys over the REST API, platform-wide ones
// (/api/v1/api-keys) or, with --project, the keys scoped to one project. The plaintext of a
// created or rotated key is printed once and never again.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddKeyCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
