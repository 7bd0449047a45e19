#include "tracking/tracking_validation.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/encoding.h"

namespace falaj::tracking {

std::string_view LifecycleName(Lifecycle lifecycle) {
  return lifecycle == Lifecycle::kDeleted ? "deleted" : "active";
}

bool IsRunStatus(std::string_view status) {
  return status == "RUNNING" || status == "SCHEDULED" || status == "FINISHED" ||
         status == "FAILED" || status == "KILLED";
}

Status ValidateExperimentName(std::string_view name) {
  if (name.empty()) return MakeError(ErrorCode::kInvalidArgument, "experiment name is empty");
  if (name.size() > kMaxExperimentNameBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "experiment name is longer than {} bytes",
                     kMaxExperimentNameBytes);
  }
  return Ok();
}

Status ValidateKey(std::string_view what, std::string_view key) {
  if (key.empty()) return MakeError(ErrorCode::kInvalidArgument, "{} key is empty", what);
  if (key.size() > kMaxKeyLength) {
    return MakeError(ErrorCode::kInvalidArgument, "{} key '{}…' is longer than {} characters", what,
                     key.substr(0, 40), kMaxKeyLength);
  }
  // Keys become identifiers in search filters and paths in artifact stores.
  if (key.find("..") != std::string_view::npos || key.front() == '/' ||
      std::any_of(key.begin(), key.end(), [](unsigned char c) { return std::iscntrl(c); })) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{} key '{}' may not start with '/', contain '..' or control characters", what,
                     key.substr(0, 80));
  }
  return Ok();
}

Status ValidateTag(std::string_view key, std::string_view value, size_t max_value_bytes) {
  FALAJ_RETURN_IF_ERROR(ValidateKey("tag", key));
  if (value.size() > max_value_bytes) {
    return MakeError(ErrorCode::kInvalidArgument, "value of tag '{}' is longer than {} bytes", key,
                     max_value_bytes);
  }
  return Ok();
}

Status ValidateRunId(std::string_view run_id) {
  if (run_id.size() != 32 || !std::all_of(run_id.begin(), run_id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return MakeError(ErrorCode::kNotFound, "run '{}' does not exist", run_id.substr(0, 80));
  }
  return Ok();
}

Result<int64_t> ParseExperimentId(std::string_view experiment_id) {
  int64_t id = 0;
  auto [end, error] =
      std::from_chars(experiment_id.data(), experiment_id.data() + experiment_id.size(), id);
  if (experiment_id.empty() || error != std::errc() ||
      end != experiment_id.data() + experiment_id.size() || id < 0) {
    return MakeError(ErrorCode::kNotFound, "experiment with id '{}' does not exist",
                     experiment_id.substr(0, 80));
  }
  return id;
}

std::string EncodePageToken(size_t offset) { return HexEncode("offset:" + std::to_string(offset)); }

Result<size_t> DecodePageToken(std::string_view token) {
  if (token.empty()) return 0;
  auto text = HexDecode(token);
  constexpr std::string_view kPrefix = "offset:";
  size_t offset = 0;
  if (text && text->starts_with(kPrefix)) {
    const char* begin = text->data() + kPrefix.size();
    const char* end = text->data() + text->size();
    auto [stop, error] = std::from_chars(begin, end, offset);
    if (begin != end && error == std::errc() && stop == end) return offset;
  }
  return MakeError(ErrorCode::kInvalidArgument, "invalid page_token");
}

}  // namespace falaj::tracking
