#include "serving/feature_provider.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace falaj::serving {
namespace {

// Rows of an entity-key input: shape [N] or [N, 1].
std::optional<size_t> KeyRows(const InferInput& input) {
  const auto& shape = input.shape;
  if (shape.size() == 1 || (shape.size() == 2 && shape[1] == 1)) {
    return static_cast<size_t>(shape[0]);
  }
  return std::nullopt;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

Result<size_t> AssembleFeatureRows(const InferRequest& request,
                                   const ResolvedFeatureService& service, std::string_view endpoint,
                                   std::string_view service_name, size_t width,
                                   std::vector<float>& rows_out) {
  const std::vector<std::string>& keys = service.join_keys();
  auto is_key = [&](const std::string& name) {
    return std::find(keys.begin(), keys.end(), name) != keys.end();
  };
  // Every input must agree on the number of rows; the first one sets it.
  std::optional<size_t> rows;
  auto agree = [&](const InferInput& input, size_t count) -> Status {
    if (rows && *rows != count) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' has {} rows; the request's other inputs have {}",
                       input.name.substr(0, 80), count, *rows);
    }
    rows = count;
    return Ok();
  };
  // Reused per thread: the spans point into this request's inputs and are dropped before return.
  thread_local std::vector<std::span<const int64_t>> columns;
  columns.clear();
  for (const std::string& key : keys) {
    const InferInput* found = nullptr;
    for (const InferInput& input : request.inputs) {
      if (input.name != key) continue;
      if (found != nullptr) {
        return MakeError(ErrorCode::kInvalidArgument, "input '{}' appears twice", key);
      }
      found = &input;
    }
    if (found == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "missing input '{}': endpoint '{}' reads feature service '{}', so a request "
                       "carries its entity keys ({}) as INT64 tensors of shape [rows]",
                       key, endpoint, service_name, fmt::join(keys, ", "));
    }
    if (!IsIntegerType(found->datatype)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' is an entity key: it must be an integer tensor (INT64), not {}",
                       key, DataTypeName(found->datatype));
    }
    std::optional<size_t> count = KeyRows(*found);
    if (!count) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' is an entity key: its shape must be [rows] or [rows, 1], not {}",
                       key, ShapeText(found->shape));
    }
    if (found->integers.size() != *count) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' holds {} exact integer keys; its shape needs {} (a UINT64 key "
                       "beyond the int64 range cannot name an entity)",
                       key, found->integers.size(), *count);
    }
    FALAJ_RETURN_IF_ERROR(agree(*found, *count));
    columns.emplace_back(found->integers);
  }
  // Every other input is request-time features, appended in the request's order.
  size_t extra = 0;
  for (const InferInput& input : request.inputs) {
    if (is_key(input.name)) continue;
    if (input.datatype == DataType::kBytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' has datatype BYTES; request-time features are numeric",
                       input.name.substr(0, 80));
    }
    const auto& shape = input.shape;
    if (shape.empty() || shape.size() > 2) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' is not an entity key of feature service '{}' ({}), so it is "
                       "request-time features: its shape must be [rows] or [rows, k], not {}",
                       input.name.substr(0, 80), service_name, fmt::join(keys, ", "),
                       ShapeText(shape));
    }
    const size_t count = static_cast<size_t>(shape[0]);
    const size_t k = shape.size() == 2 ? static_cast<size_t>(shape[1]) : 1;
    if (input.values.size() != count * k) {
      return MakeError(ErrorCode::kInvalidArgument, "input '{}' has {} values; its shape needs {}",
                       input.name.substr(0, 80), input.values.size(), count * k);
    }
    FALAJ_RETURN_IF_ERROR(agree(input, count));
    extra += k;
  }
  if (!rows || *rows == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "the request names no entities");
  }
  const size_t fetched = service.features().size();
  if (fetched + extra != width) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "endpoint '{}' gives the model {} features from feature service '{}' and {} "
                     "request-time features; the model takes {}",
                     endpoint, fetched, service_name, extra, width);
  }
  const size_t n = *rows;
  rows_out.resize(n * width);
  FALAJ_RETURN_IF_ERROR(service.Fetch(EntityKeys{columns, n}, FeatureMatrix{rows_out, n, width}));
  columns.clear();
  size_t offset = fetched;
  for (const InferInput& input : request.inputs) {
    if (is_key(input.name)) continue;
    const size_t k = input.shape.size() == 2 ? static_cast<size_t>(input.shape[1]) : 1;
    if (k == 0) continue;
    for (size_t r = 0; r < n; ++r) {
      std::memcpy(&rows_out[r * width + offset], &input.values[r * k], k * sizeof(float));
    }
    offset += k;
  }
  return n;
}

}  // namespace falaj::serving
