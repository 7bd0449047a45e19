// Internal to the validator (includes Arrow): the row checks (not_null, range, allowed_values,
// regex, unique) as typed scans over a chunked column that report each failing row to a
// FailureSink. Each scan is a plain loop over a chunk's value buffer and validity runs; regex
// uses Arrow's RE2 kernel per chunk. Stateless apart from the sink; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "data/validation_rules.h"
#include "data/validator.h"

namespace arrow {
class ChunkedArray;
}  // namespace arrow

namespace falaj::data {

// Collects the failures of one check: the count, the first few examples, and for every row the
// first check it broke (checks run in order, so the first to mark a row is the one reported).
class FailureSink {
 public:
  static constexpr size_t kMaxExamples = 5;
  static constexpr size_t kMaxExampleBytes = 64;

  FailureSink(int32_t check_index, std::vector<int32_t>& first_failure)
      : check_index_(check_index), first_failure_(first_failure) {}

  // `value_text` is called only while examples are still wanted, so that formatting costs
  // nothing on a batch with many failures.
  template <typename ValueText>
  void Fail(int64_t row, ValueText&& value_text) {
    ++failed_;
    int32_t& first = first_failure_[row];
    if (first < 0) first = check_index_;
    if (examples_.size() < kMaxExamples) examples_.push_back({row, value_text()});
  }

  int64_t failed() const { return failed_; }
  std::vector<FailureExample> TakeExamples() { return std::move(examples_); }

 private:
  int32_t check_index_;
  std::vector<int32_t>& first_failure_;
  int64_t failed_ = 0;
  std::vector<FailureExample> examples_;
};

// A prepared row check: scans its column and reports failures to the sink.
using RowCheck = std::function<Status(FailureSink&)>;

// The scan for row check `kind` of `rule` over `column` (which must outlive the scan), or
// INVALID_ARGUMENT saying why the check does not fit the column's type; the message does not
// name the rule (the caller adds where).
Result<RowCheck> MakeRowCheck(CheckKind kind, const ValidationRule& rule,
                              std::shared_ptr<arrow::ChunkedArray> column);

// The unique check alone (unique_check.cc); MakeRowCheck(kUnique, ...) calls it.
Result<RowCheck> MakeUniqueCheck(std::shared_ptr<arrow::ChunkedArray> column);

// OK if RE2 (through Arrow) compiles `pattern`; INVALID_ARGUMENT with RE2's reason otherwise.
Status CheckRegexSyntax(const std::string& pattern);

}  // namespace falaj::data
