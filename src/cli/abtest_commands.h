// `falaj abtests …`: A/B tests of a project — list, create, get, results, decide and delete.
// Metrics are given as NAME:KIND[:ROLE[:HARM]] (e.g. clicked:conversion:primary,
// latency_ok:conversion:guardrail:0.01, revenue:numeric). `results` prints one row per metric
// (means, p-value, lifts with intervals, the always-valid interval) and then the sample-ratio
// check, the minimum sample and the recommendation; -o json prints the whole answer.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_table.h"

namespace falaj::cli {

void AddAbTestCommands(CLI::App& app, CommandTable& table);

}  // namespace falaj::cli
