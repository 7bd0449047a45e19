#include "data/validator.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <set>

#include "data/arrow_columns.h"
#include "data/batch_checks.h"
#include "data/row_checks.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

constexpr size_t kMaxDescribedValues = 5;

std::string BoundText(int64_t bound) { return fmt::format("{}", bound); }
std::string BoundText(const RangeBound& bound) {
  return std::visit([](auto value) { return fmt::format("{}", value); }, bound);
}
template <typename T>
std::optional<std::string> BoundText(const std::optional<T>& bound) {
  return bound ? std::optional(BoundText(*bound)) : std::nullopt;
}

std::string FormatInterval(const std::optional<std::string>& low,
                           const std::optional<std::string>& high) {
  return fmt::format("{}{}, {}{}", low ? "[" : "(", low.value_or("-inf"), high.value_or("inf"),
                     high ? "]" : ")");
}

std::string DescribeAllowed(const AllowedValues& allowed) {
  return std::visit(
      [](const auto& values) {
        std::string text = "[";
        for (size_t i = 0; i < values.size() && i < kMaxDescribedValues; ++i) {
          text += fmt::format("{}{}", i == 0 ? "" : ", ", values[i]);
        }
        if (values.size() > kMaxDescribedValues) {
          text += fmt::format(", ... {} more", values.size() - kMaxDescribedValues);
        }
        return text + "]";
      },
      allowed);
}

// "amount: range [0, 10000]": short, for reports and the quarantine table's _falaj_rule.
std::string Describe(const ValidationRule& rule, CheckKind kind) {
  std::string detail;
  switch (kind) {
    case CheckKind::kType:
      detail = fmt::format("type {}", DeclaredTypeName(*rule.type));
      break;
    case CheckKind::kNotNull:
      detail = "not_null";
      break;
    case CheckKind::kRange:
      detail = "range " + FormatInterval(BoundText(rule.range->min), BoundText(rule.range->max));
      break;
    case CheckKind::kAllowedValues:
      detail = "allowed_values " + DescribeAllowed(*rule.allowed_values);
      break;
    case CheckKind::kRegex:
      detail = "regex " + *rule.regex;
      break;
    case CheckKind::kUnique:
      detail = "unique";
      break;
    case CheckKind::kFreshness:
      detail = "freshness max_age " + FormatDuration(*rule.freshness_max_age);
      break;
    case CheckKind::kRowCount:
      return "row_count " +
             FormatInterval(BoundText(rule.row_count->min), BoundText(rule.row_count->max));
  }
  return SanitizeUtf8(rule.column + ": " + detail, 256);
}

// The checks a rule asks for, in the order they run.
std::vector<CheckKind> ChecksOf(const ValidationRule& rule) {
  std::vector<CheckKind> kinds;
  if (rule.row_count) kinds.push_back(CheckKind::kRowCount);
  if (rule.type) kinds.push_back(CheckKind::kType);
  if (rule.not_null) kinds.push_back(CheckKind::kNotNull);
  if (rule.range) kinds.push_back(CheckKind::kRange);
  if (rule.allowed_values) kinds.push_back(CheckKind::kAllowedValues);
  if (rule.regex) kinds.push_back(CheckKind::kRegex);
  if (rule.unique) kinds.push_back(CheckKind::kUnique);
  if (rule.freshness_max_age) kinds.push_back(CheckKind::kFreshness);
  return kinds;
}

std::string Where(size_t index, const ValidationRule& rule) {
  return fmt::format("rules[{}] (column '{}')", index, rule.column);
}

Result<std::shared_ptr<arrow::ChunkedArray>> FindColumn(const arrow::Table& table, size_t index,
                                                        const ValidationRule& rule) {
  auto matches = table.schema()->GetAllFieldIndices(rule.column);
  if (matches.size() != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: the batch has {} columns named '{}'",
                     Where(index, rule), matches.size(), rule.column);
  }
  return table.column(matches[0]);
}

void SetBatchOutcome(CheckResult& result, const BatchOutcome& outcome) {
  result.evaluated = 1;
  result.failed = outcome.passed ? 0 : 1;
  result.pass_fraction = outcome.passed ? 1.0 : 0.0;
  result.passed = outcome.passed;
  result.observed = outcome.observed;
}

// What Validate works from: every check's result (batch-level ones already final) and the scans
// still to run for the row checks.
struct Plan {
  std::vector<CheckResult> checks;
  std::vector<std::pair<int32_t, RowCheck>> scans;  // check index, scan
};

// Columns whose declared type check failed: their other checks are not run.
std::set<std::string> ColumnsWithWrongType(const arrow::Table& table,
                                           const ValidationRules& rules) {
  std::set<std::string> wrong;
  for (const auto& rule : rules.rules) {
    auto field = rule.type ? table.schema()->GetFieldByName(rule.column) : nullptr;
    if (field && !CheckDeclaredType(*rule.type, *field->type()).passed) wrong.insert(rule.column);
  }
  return wrong;
}

Status PlanCheck(const arrow::Table& table, size_t index, const ValidationRule& rule,
                 CheckKind kind, std::chrono::system_clock::time_point now,
                 const std::set<std::string>& wrong_type, Plan& plan) {
  CheckResult result;
  result.rule_index = static_cast<int32_t>(index);
  result.kind = kind;
  result.description = Describe(rule, kind);
  result.mostly = IsBatchLevel(kind) ? 1.0 : rule.mostly;
  if (kind == CheckKind::kRowCount) {
    SetBatchOutcome(result, CheckRowCount(table.num_rows(), *rule.row_count));
  } else {
    FALAJ_ASSIGN_OR_RETURN(auto column, FindColumn(table, index, rule));
    if (kind == CheckKind::kType) {
      SetBatchOutcome(result, CheckDeclaredType(*rule.type, *column->type()));
    } else if (wrong_type.contains(rule.column)) {
      result.skipped = true;
    } else if (kind == CheckKind::kFreshness) {
      auto outcome = CheckFreshness(*column, *rule.freshness_max_age, now);
      if (!outcome)
        return MakeError(outcome.error().code, "{}: {}", Where(index, rule),
                         outcome.error().message);
      SetBatchOutcome(result, *outcome);
    } else {
      auto scan = MakeRowCheck(kind, rule, column);
      if (!scan)
        return MakeError(scan.error().code, "{}: {}", Where(index, rule), scan.error().message);
      plan.scans.emplace_back(static_cast<int32_t>(plan.checks.size()), std::move(*scan));
      result.evaluated =
          kind == CheckKind::kNotNull ? column->length() : column->length() - column->null_count();
    }
  }
  plan.checks.push_back(std::move(result));
  return Ok();
}

Result<Plan> MakePlan(const arrow::Table& table, const ValidationRules& rules,
                      std::chrono::system_clock::time_point now) {
  Plan plan;
  std::set<std::string> wrong_type = ColumnsWithWrongType(table, rules);
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    for (CheckKind kind : ChecksOf(rules.rules[i])) {
      FALAJ_RETURN_IF_ERROR(PlanCheck(table, i, rules.rules[i], kind, now, wrong_type, plan));
    }
  }
  return plan;
}

// Verdict and rejected_by from the finished check results.
void Decide(ValidationReport& report) {
  for (size_t i = 0; i < report.checks.size() && report.rejected_by < 0; ++i) {
    if (IsBatchLevel(report.checks[i].kind) && !report.checks[i].passed) {
      report.rejected_by = static_cast<int32_t>(i);
    }
  }
  for (size_t i = 0; i < report.checks.size() && report.rejected_by < 0; ++i) {
    if (report.policy == ValidationPolicy::kStrict && !report.checks[i].passed) {
      report.rejected_by = static_cast<int32_t>(i);
    }
  }
  report.verdict = report.rejected_by >= 0       ? Verdict::kRejected
                   : report.failed_row_count > 0 ? Verdict::kAcceptedWithQuarantine
                                                 : Verdict::kAccepted;
}

}  // namespace

std::string_view CheckKindName(CheckKind kind) {
  switch (kind) {
    case CheckKind::kType:
      return "type";
    case CheckKind::kNotNull:
      return "not_null";
    case CheckKind::kRange:
      return "range";
    case CheckKind::kAllowedValues:
      return "allowed_values";
    case CheckKind::kRegex:
      return "regex";
    case CheckKind::kUnique:
      return "unique";
    case CheckKind::kFreshness:
      return "freshness";
    case CheckKind::kRowCount:
      return "row_count";
  }
  return "unknown";
}

bool IsBatchLevel(CheckKind kind) {
  return kind == CheckKind::kType || kind == CheckKind::kFreshness || kind == CheckKind::kRowCount;
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kAcceptedWithQuarantine:
      return "accepted_with_quarantine";
    case Verdict::kRejected:
      return "rejected";
  }
  return "unknown";
}

Result<ValidationReport> Validate(const arrow::Table& table, const ValidationRules& rules,
                                  std::chrono::system_clock::time_point now) {
  FALAJ_ASSIGN_OR_RETURN(Plan plan, MakePlan(table, rules, now));
  ValidationReport report;
  report.policy = rules.policy;
  report.row_count = table.num_rows();
  report.first_failure.assign(static_cast<size_t>(table.num_rows()), -1);
  report.checks = std::move(plan.checks);
  // In check order, so that the first check to mark a row is the first the row broke.
  for (auto& [index, scan] : plan.scans) {
    FailureSink sink(index, report.first_failure);
    FALAJ_RETURN_IF_ERROR(scan(sink));
    CheckResult& result = report.checks[index];
    result.failed = sink.failed();
    result.examples = sink.TakeExamples();
    if (result.evaluated > 0) {
      result.pass_fraction = static_cast<double>(result.evaluated - result.failed) /
                             static_cast<double>(result.evaluated);
    }
    result.passed = result.pass_fraction >= result.mostly;
  }
  for (int32_t first : report.first_failure) report.failed_row_count += first >= 0 ? 1 : 0;
  Decide(report);
  return report;
}

}  // namespace falaj::data
