// `falaj monitors list|create|get|report|delete`: drift monitors of a project
// (docs/monitoring.md). `create -f` sends a YAML/JSON monitor spec; `report` shows the latest
// report per feature, `report --dataset D` makes a batch report of a dataset version and
// `report --close` closes the open window now. Single-threaded.
#pragma once

#include "cli/command_table.h"

namespace falaj::cli {

void AddMonitorCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
