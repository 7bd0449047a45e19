// `falaj members list|set|remove`: the role bindings of a project over the REST API. Subjects are
// "key:<id>", "user:<name>" or "group:<name>".
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddMemberCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
