// `falaj audit list|verify|export`: the audit trail. `list` and `verify` ask a server over the
// REST API; `verify --data-dir` and `export` read a data directory directly, with no server.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddAuditCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
