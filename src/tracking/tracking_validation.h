// Input checks shared by the tracking store: names, keys, values and ids, each failing with
// INVALID_ARGUMENT and a message naming what was wrong. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "tracking/tracking_types.h"

namespace falaj::tracking {

// Experiment tags may be much longer than run tags (MLflow accepts >= 20,000 bytes).
inline constexpr size_t kMaxExperimentTagValueBytes = 20000;
inline constexpr size_t kMaxExperimentNameBytes = 500;

Status ValidateExperimentName(std::string_view name);
// `what` is "param", "tag" or "metric", for the message.
Status ValidateKey(std::string_view what, std::string_view key);
Status ValidateTag(std::string_view key, std::string_view value,
                   size_t max_value_bytes = kMaxExperimentTagValueBytes);
Status ValidateRunId(std::string_view run_id);
Result<int64_t> ParseExperimentId(std::string_view experiment_id);

// Opaque page tokens: the offset of the next page in a stable order. "" decodes to 0; a token
// this server did not issue is INVALID_ARGUMENT.
std::string EncodePageToken(size_t offset);
Result<size_t> DecodePageToken(std::string_view token);

}  // namespace falaj::tracking
