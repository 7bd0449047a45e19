// Arrow reports failures as arrow::Status / arrow::Result; Falaj's module boundaries speak
// falaj::Result. These adapters convert, prefixing the message with what was being done.
// Arrow's own failures are INTERNAL unless the caller says the input was at fault.
// Stateless and thread-safe.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <string_view>

#include "common/result.h"

namespace falaj::data {

inline Status FromArrow(const arrow::Status& status, std::string_view doing,
                        ErrorCode code = ErrorCode::kInternal) {
  if (status.ok()) return Ok();
  return MakeError(code, "{}: {}", doing, status.message());
}

template <typename T>
Result<T> FromArrow(arrow::Result<T> result, std::string_view doing,
                    ErrorCode code = ErrorCode::kInternal) {
  if (!result.ok()) return MakeError(code, "{}: {}", doing, result.status().message());
  return std::move(result).ValueUnsafe();
}

}  // namespace falaj::data
