// `falaj alerts rules|list|create-rule|delete-rule`: alert rules on monitored values and the
// current alerts (docs/alerts.md). `create-rule -f` sends a YAML/JSON rule. Single-threaded.
#pragma once

#include "cli/command_table.h"

namespace falaj::cli {

void AddAlertCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
