#include "jobs/command_spec.h"

#include <algorithm>

#include "common/json_fields.h"

namespace falaj::jobs {
namespace {

constexpr size_t kMaxArgs = 1024;
constexpr size_t kMaxArgBytes = 64 * 1024;
constexpr size_t kMaxFiles = 64;
constexpr int64_t kWeekSeconds = 7 * 24 * 3600;

// Names the server sets itself: a spec may not point the job elsewhere.
bool IsReservedEnv(std::string_view name) {
  return name.starts_with("FALAJ_") || name.starts_with("MLFLOW_TRACKING_");
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || name.size() > 256 || std::isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A plain file name inside the work directory: no directories, no "." or "..".
bool IsFileName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Result<std::map<std::string, std::string>> StringMap(const nlohmann::json& spec,
                                                     std::string_view field) {
  FALAJ_ASSIGN_OR_RETURN(auto map, json::OptionalStringMap(spec, field));
  return map.value_or(std::map<std::string, std::string>());
}

Status ParseLimit(const nlohmann::json& limits, std::string_view field, int64_t minimum,
                  int64_t maximum, int64_t& value) {
  FALAJ_ASSIGN_OR_RETURN(auto parsed, json::OptionalInt(limits, field));
  if (!parsed) return Ok();
  if (*parsed < minimum || *parsed > maximum) {
    return MakeError(ErrorCode::kInvalidArgument, "limits.{} must be {} to {}, got {}", field,
                     minimum, maximum, *parsed);
  }
  value = *parsed;
  return Ok();
}

Result<CommandLimits> ParseLimits(const nlohmann::json& spec) {
  CommandLimits limits;
  auto found = spec.find("limits");
  if (found == spec.end() || found->is_null()) return limits;
  if (!found->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "limits must be an object");
  }
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      *found, {"timeout_seconds", "cpu_seconds", "memory_mb", "max_log_mb"}));
  FALAJ_RETURN_IF_ERROR(
      ParseLimit(*found, "timeout_seconds", 1, kWeekSeconds, limits.timeout_seconds));
  FALAJ_RETURN_IF_ERROR(ParseLimit(*found, "cpu_seconds", 1, kWeekSeconds, limits.cpu_seconds));
  FALAJ_RETURN_IF_ERROR(ParseLimit(*found, "memory_mb", 16, 1 << 20, limits.memory_mb));
  FALAJ_RETURN_IF_ERROR(ParseLimit(*found, "max_log_mb", 1, 1024, limits.max_log_mb));
  return limits;
}

}  // namespace

Result<CommandSpec> ParseCommandSpec(const nlohmann::json& spec) {
  if (!spec.is_object()) return MakeError(ErrorCode::kInvalidArgument, "spec must be an object");
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(spec, {"command", "env", "files", "limits"}));
  CommandSpec parsed;
  auto command = spec.find("command");
  if (command == spec.end() || !command->is_array() || command->empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "spec.command must be a non-empty list of strings (the argv; no shell)");
  }
  if (command->size() > kMaxArgs) {
    return MakeError(ErrorCode::kInvalidArgument, "spec.command has {} items; at most {}",
                     command->size(), kMaxArgs);
  }
  for (size_t i = 0; i < command->size(); ++i) {
    const auto& item = (*command)[i];
    if (!item.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "spec.command[{}] must be a string", i);
    }
    const auto& text = item.get_ref<const std::string&>();
    if (text.size() > kMaxArgBytes || text.find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "spec.command[{}] must be at most {} bytes without NUL", i, kMaxArgBytes);
    }
    parsed.command.push_back(text);
  }
  if (parsed.command[0].empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "spec.command[0] (the program) is empty");
  }
  FALAJ_ASSIGN_OR_RETURN(parsed.env, StringMap(spec, "env"));
  for (const auto& [name, value] : parsed.env) {
    if (!IsEnvName(name)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "spec.env name '{}' is not a valid variable name", name.substr(0, 64));
    }
    if (IsReservedEnv(name)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "spec.env may not set '{}': the server sets FALAJ_* and MLFLOW_TRACKING_*",
                       name);
    }
    if (value.find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "spec.env '{}' contains NUL", name);
    }
  }
  FALAJ_ASSIGN_OR_RETURN(parsed.files, StringMap(spec, "files"));
  if (parsed.files.size() > kMaxFiles) {
    return MakeError(ErrorCode::kInvalidArgument, "spec.files has {} entries; at most {}",
                     parsed.files.size(), kMaxFiles);
  }
  for (const auto& [name, content] : parsed.files) {
    if (!IsFileName(name)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "spec.files name '{}' must be a plain file name (letters, digits, '.', "
                       "'_', '-'; no directories)",
                       name.substr(0, 64));
    }
  }
  FALAJ_ASSIGN_OR_RETURN(parsed.limits, ParseLimits(spec));
  return parsed;
}

}  // namespace falaj::jobs
