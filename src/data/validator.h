// Validates an ingested batch (an Arrow table) against ValidationRules: which rows pass, which
// check each failing row broke first, how every check fared against its `mostly` threshold, and
// the batch's verdict under the rules' policy. Also splits the batch into accepted and
// quarantined rows, and writes the report as JSON. Row checks run as typed loops over each
// chunk's buffers (no per-cell virtual calls); regexes run through Arrow's RE2 kernel.
// Pure functions over their arguments; thread-safe for concurrent calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "data/validation_rules.h"

namespace arrow {
class Table;
}  // namespace arrow

namespace falaj::data {

// One check of one rule; the order here is the order in which a rule's checks run.
enum class CheckKind {
  kType,           // batch-level
  kNotNull,        // row
  kRange,          // row
  kAllowedValues,  // row
  kRegex,          // row
  kUnique,         // row
  kFreshness,      // batch-level
  kRowCount,       // batch-level
};

// "type", "not_null", "range", "allowed_values", "regex", "unique", "freshness", "row_count".
std::string_view CheckKindName(CheckKind kind);
bool IsBatchLevel(CheckKind kind);

enum class Verdict { kAccepted, kAcceptedWithQuarantine, kRejected };

// "accepted", "accepted_with_quarantine", "rejected".
std::string_view VerdictName(Verdict verdict);

struct FailureExample {
  int64_t row = 0;
  std::string value{};  // as text, at most ~64 bytes of valid UTF-8; "null" for nulls
};

struct CheckResult {
  int32_t rule_index = 0;  // into ValidationRules::rules
  CheckKind kind = CheckKind::kNotNull;
  std::string description{};  // "amount: range [0, 10000]"
  // Not run because the rule's column failed its declared type check, which rejects the batch.
  bool skipped = false;
  // Row checks: rows evaluated (all rows for not_null; non-null rows otherwise) and failed.
  // Batch-level checks: 1 evaluated, 0 or 1 failed.
  int64_t evaluated = 0;
  int64_t failed = 0;
  double pass_fraction = 1.0;  // (evaluated - failed) / evaluated; 1 when nothing was evaluated
  double mostly = 1.0;         // the threshold applied (1 for batch-level checks)
  bool passed = true;          // pass_fraction >= mostly
  std::string observed{};      // batch-level: what was found, e.g. "newest value 26h old"
  std::vector<FailureExample> examples{};  // row checks: the first few failures, in row order
};

struct ValidationReport {
  ValidationPolicy policy = ValidationPolicy::kQuarantine;
  Verdict verdict = Verdict::kAccepted;
  int64_t row_count = 0;
  int64_t failed_row_count = 0;  // rows that broke at least one row check
  std::vector<CheckResult> checks{};
  // Per row: the index in `checks` of the first check the row broke, or -1 if it passed all.
  std::vector<int32_t> first_failure{};
  // If rejected: the index in `checks` of the check that rejected the batch (the first failed
  // batch-level check, else the first row check below its threshold); -1 otherwise.
  int32_t rejected_by = -1;

  bool RowPassed(int64_t row) const { return first_failure[row] < 0; }
  // The check row `row` broke first, or nullptr if it passed.
  const CheckResult* FirstFailure(int64_t row) const {
    return first_failure[row] < 0 ? nullptr : &checks[first_failure[row]];
  }
};

// Validates `table` against `rules`; `now` is the reference time for freshness. A rule naming a
// column the table lacks (or has twice), or a check that does not fit the column's type (regex
// on a number, range on a string, allowed strings on an integer column), is INVALID_ARGUMENT:
// a misconfiguration, not bad rows. A column whose declared `type` does not match is not an
// error: that check fails (rejecting the batch) and the column's other checks are skipped.
// Nulls pass every row check except not_null; NaN fails range, passes not_null.
Result<ValidationReport> Validate(const arrow::Table& table, const ValidationRules& rules,
                                  std::chrono::system_clock::time_point now);

struct SplitBatch {
  std::shared_ptr<arrow::Table> accepted{};  // the rows to keep, in order, original schema
  // The other rows, in order: the original columns plus _falaj_rule (utf8: the description of
  // the broken check) and _falaj_row (int64: the row's index in the batch).
  std::shared_ptr<arrow::Table> quarantined{};
};

// Splits `table` (the table `report` was made from) by the report. If the batch was rejected,
// every row is quarantined: rows that broke a row check name it, the others name the check that
// rejected the batch, prefixed "batch rejected: ". INVALID_ARGUMENT if the report does not
// belong to the table (row count) or the table already has a _falaj_rule/_falaj_row column.
Result<SplitBatch> SplitByReport(const std::shared_ptr<arrow::Table>& table,
                                 const ValidationReport& report);

// The report as JSON: policy, verdict, counts, checks, rejected_by, and the first
// `max_failed_rows` failed rows as {"row", "check"} (failed_rows_truncated says if more exist).
nlohmann::json ReportToJson(const ValidationReport& report, size_t max_failed_rows = 1000);

}  // namespace falaj::data
