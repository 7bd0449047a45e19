// The validator's outputs beyond the report itself: the batch split into accepted and
// quarantined rows (arrow::compute::Take, so columns are gathered a buffer at a time), and the
// report as JSON.
#include <arrow/api.h>
#include <arrow/compute/api.h>

#include "data/arrow_columns.h"
#include "data/arrow_status.h"
#include "data/quarantine.h"
#include "data/validator.h"

namespace falaj::data {
namespace {

using nlohmann::json;

// Row indices and, for quarantined rows, the rule text, built in one pass over the report.
struct Selection {
  arrow::Int64Builder accepted;
  arrow::Int64Builder quarantined;
  arrow::StringBuilder rules;
};

Status Select(const ValidationReport& report, Selection& selection) {
  bool rejected = report.verdict == Verdict::kRejected;
  std::string batch_reason;
  if (rejected && report.rejected_by >= 0) {
    batch_reason = "batch rejected: " + report.checks[report.rejected_by].description;
  }
  arrow::Status status = arrow::Status::OK();
  for (int64_t row = 0; row < report.row_count && status.ok(); ++row) {
    const CheckResult* failure = report.FirstFailure(row);
    if (failure == nullptr && !rejected) {
      status = selection.accepted.Append(row);
      continue;
    }
    status = selection.quarantined.Append(row);
    if (status.ok()) {
      status = selection.rules.Append(failure != nullptr ? failure->description : batch_reason);
    }
  }
  return FromArrow(status, "selecting rows");
}

Result<std::shared_ptr<arrow::Table>> TakeRows(const std::shared_ptr<arrow::Table>& table,
                                               const std::shared_ptr<arrow::Array>& rows) {
  FALAJ_ASSIGN_OR_RETURN(auto taken, FromArrow(arrow::compute::Take(table, rows), "taking rows"));
  return taken.table();
}

Result<std::shared_ptr<arrow::Table>> Quarantine(const std::shared_ptr<arrow::Table>& table,
                                                 Selection& selection) {
  std::shared_ptr<arrow::Array> rows;
  std::shared_ptr<arrow::Array> rules;
  FALAJ_RETURN_IF_ERROR(FromArrow(selection.quarantined.Finish(&rows), "quarantine rows"));
  FALAJ_RETURN_IF_ERROR(FromArrow(selection.rules.Finish(&rules), "quarantine rules"));
  FALAJ_ASSIGN_OR_RETURN(auto quarantined, TakeRows(table, rows));
  int position = quarantined->num_columns();
  FALAJ_ASSIGN_OR_RETURN(
      quarantined,
      FromArrow(quarantined->AddColumn(position,
                                       arrow::field(std::string(kRuleColumn), arrow::utf8(), false),
                                       std::make_shared<arrow::ChunkedArray>(rules)),
                "adding _falaj_rule"));
  return FromArrow(quarantined->AddColumn(
                       position + 1, arrow::field(std::string(kRowColumn), arrow::int64(), false),
                       std::make_shared<arrow::ChunkedArray>(rows)),
                   "adding _falaj_row");
}

json CheckToJson(const CheckResult& check) {
  json out = {{"rule", check.rule_index},
              {"kind", CheckKindName(check.kind)},
              {"description", check.description},
              {"skipped", check.skipped},
              {"evaluated", check.evaluated},
              {"failed", check.failed},
              {"pass_fraction", check.pass_fraction},
              {"mostly", check.mostly},
              {"passed", check.passed}};
  if (!check.observed.empty()) out["observed"] = check.observed;
  json examples = json::array();
  for (const auto& example : check.examples) {
    examples.push_back({{"row", example.row}, {"value", example.value}});
  }
  out["examples"] = std::move(examples);
  return out;
}

}  // namespace

Result<SplitBatch> SplitByReport(const std::shared_ptr<arrow::Table>& table,
                                 const ValidationReport& report) {
  if (table->num_rows() != report.row_count ||
      report.first_failure.size() != static_cast<size_t>(report.row_count)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the report covers {} rows and the table has {}: not its report",
                     report.row_count, table->num_rows());
  }
  for (std::string_view name : {kRuleColumn, kRowColumn}) {
    if (!table->schema()->GetAllFieldIndices(std::string(name)).empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "the batch already has a column {}", name);
    }
  }
  FALAJ_RETURN_IF_ERROR(EnsureArrowCompute());
  Selection selection;
  FALAJ_RETURN_IF_ERROR(Select(report, selection));
  SplitBatch split;
  if (selection.quarantined.length() == 0) {
    split.accepted = table;  // nothing to take out: no copy
  } else {
    std::shared_ptr<arrow::Array> rows;
    FALAJ_RETURN_IF_ERROR(FromArrow(selection.accepted.Finish(&rows), "accepted rows"));
    FALAJ_ASSIGN_OR_RETURN(split.accepted, TakeRows(table, rows));
  }
  FALAJ_ASSIGN_OR_RETURN(split.quarantined, Quarantine(table, selection));
  return split;
}

json ReportToJson(const ValidationReport& report, size_t max_failed_rows) {
  json checks = json::array();
  for (const auto& check : report.checks) checks.push_back(CheckToJson(check));
  json failed_rows = json::array();
  bool truncated = false;
  for (size_t row = 0; row < report.first_failure.size(); ++row) {
    if (report.first_failure[row] < 0) continue;
    if (failed_rows.size() == max_failed_rows) {
      truncated = true;
      break;
    }
    failed_rows.push_back({{"row", row}, {"check", report.first_failure[row]}});
  }
  return {{"policy", PolicyName(report.policy)},
          {"verdict", VerdictName(report.verdict)},
          {"row_count", report.row_count},
          {"failed_row_count", report.failed_row_count},
          {"rejected_by", report.rejected_by < 0 ? json(nullptr) : json(report.rejected_by)},
          {"checks", std::move(checks)},
          {"failed_rows", std::move(failed_rows)},
          {"failed_rows_truncated", truncated}};
}

}  // namespace falaj::data
