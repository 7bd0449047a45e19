// The spec of a "command" job (a custom training script run on the server), parsed and checked
// strictly: unknown fields, a missing or non-string argv, reserved environment names, unsafe
// file names and out-of-range limits are INVALID_ARGUMENT naming the field.
//
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace falaj::jobs {

struct CommandLimits {
  int64_t timeout_seconds = 3600;
  int64_t cpu_seconds = 0;  // 0: no RLIMIT_CPU
  int64_t memory_mb = 0;    // 0: no RLIMIT_AS
  int64_t max_log_mb = 16;
};

struct CommandSpec {
  std::vector<std::string> command;          // argv; no shell
  std::map<std::string, std::string> env;    // added to the job's environment
  std::map<std::string, std::string> files;  // name → content, written to the work directory
  CommandLimits limits;
};

Result<CommandSpec> ParseCommandSpec(const nlohmann::json& spec);

}  // namespace falaj::jobs
