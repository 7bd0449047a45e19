#include "data/ingest_service.h"

#include <arrow/api.h>

#include "data/batch_readers.h"
#include "data/column_profile.h"
#include "data/validation_rules.h"
#include "data/validator.h"

namespace falaj::data {
namespace {

// The source's rules, then a not-null rule for every non-nullable column.
Result<ValidationRules> EffectiveRules(const Source& source) {
  ValidationRules rules;
  if (!source.validation.empty()) {
    FALAJ_ASSIGN_OR_RETURN(rules, ParseRulesJson(source.validation));
  }
  std::vector<ValidationRule> implied;
  for (const auto& column : source.schema.columns) {
    if (!column.nullable) implied.push_back({.column = column.name, .not_null = true});
  }
  // Appended, so rule indices in reports match the source's own rules.
  rules.rules.insert(rules.rules.end(), implied.begin(), implied.end());
  return rules;
}

Result<DeliveredBatch> Read(const IngestRequest& request, const TableSchema& schema) {
  switch (request.format) {
    case BatchFormat::kCsv:
      return ReadCsvBatch(request.body, schema);
    case BatchFormat::kParquet:
      return ReadParquetBatch(request.body, schema);
    case BatchFormat::kJsonRows:
      return ReadJsonRowsBatch(request.body, schema);
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown batch format");
}

// Moves the validator's quarantined rows into the batch's quarantine, with their positions in
// the batch as delivered.
Status Quarantine(DeliveredBatch& batch, const arrow::Table& quarantined) {
  if (quarantined.num_rows() == 0) return Ok();
  auto rules = quarantined.GetColumnByName(std::string(kRuleColumn));
  auto rows = quarantined.GetColumnByName(std::string(kRowColumn));
  std::vector<std::string> rule_texts;
  std::vector<int64_t> positions;
  for (int c = 0; c < rules->num_chunks(); ++c) {
    const auto& texts = static_cast<const arrow::StringArray&>(*rules->chunk(c));
    const auto& indices = static_cast<const arrow::Int64Array&>(*rows->chunk(c));
    for (int64_t i = 0; i < texts.length(); ++i) {
      rule_texts.push_back(texts.GetString(i));
      positions.push_back(batch.batch_rows[indices.Value(i)]);
    }
  }
  return batch.quarantine->AddTyped(quarantined, rule_texts, positions);
}

}  // namespace

nlohmann::json IngestOutcomeJson(const IngestOutcome& outcome) {
  auto version = [](const std::optional<DatasetVersion>& stored) -> nlohmann::json {
    if (!stored) return nullptr;
    return {{"name", stored->dataset}, {"version", stored->version}, {"rows", stored->rows}};
  };
  return {{"verdict", outcome.verdict},
          {"rows_delivered", outcome.rows_delivered},
          {"rows_accepted", outcome.rows_accepted},
          {"rows_quarantined", outcome.rows_quarantined},
          {"dataset", version(outcome.dataset)},
          {"quarantine", version(outcome.quarantine)},
          {"validation", outcome.validation},
          {"online_error", outcome.online_error.empty() ? nlohmann::json(nullptr)
                                                        : nlohmann::json(outcome.online_error)}};
}

Result<IngestOutcome> IngestService::Ingest(const IngestRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto source, sources_.Get(request.project, request.source));
  FALAJ_ASSIGN_OR_RETURN(auto rules, EffectiveRules(source));
  FALAJ_ASSIGN_OR_RETURN(auto batch, Read(request, source.schema));
  FALAJ_ASSIGN_OR_RETURN(auto report, Validate(*batch.rows, rules, clock_.Now()));
  FALAJ_ASSIGN_OR_RETURN(auto split, SplitByReport(batch.rows, report));
  FALAJ_RETURN_IF_ERROR(Quarantine(batch, *split.quarantined));

  IngestOutcome outcome;
  outcome.rows_delivered = batch.delivered;
  outcome.validation = ReportToJson(report);
  outcome.validation["rows_untyped"] = batch.delivered - batch.rows->num_rows();
  const nlohmann::json lineage = {{"source", source.name},
                                  {"source_revision", source.revision},
                                  {"format", request.format == BatchFormat::kCsv       ? "csv"
                                             : request.format == BatchFormat::kParquet ? "parquet"
                                                                                       : "json"}};
  const bool rejected = report.verdict == Verdict::kRejected;
  if (!rejected && split.accepted->num_rows() > 0) {
    FALAJ_ASSIGN_OR_RETURN(auto profile, ProfileTable(*split.accepted));
    FALAJ_ASSIGN_OR_RETURN(outcome.dataset,
                           datasets_.AddVersion(request.project, source.dataset, *split.accepted,
                                                {.kind = DatasetKind::kIngested,
                                                 .schema = source.schema,
                                                 .profile = ProfileToJson(profile),
                                                 .report = outcome.validation,
                                                 .lineage = lineage,
                                                 .created_by = request.principal}));
    outcome.rows_accepted = split.accepted->num_rows();
    if (on_accepted_) {
      if (Status streamed = on_accepted_(request.project, source.name, *split.accepted);
          !streamed) {
        outcome.online_error = streamed.error().message;
      }
    }
  }
  outcome.rows_quarantined = batch.quarantine->rows();
  if (outcome.rows_quarantined > 0) {
    FALAJ_ASSIGN_OR_RETURN(auto quarantined, batch.quarantine->Finish());
    nlohmann::json quarantine_lineage = lineage;
    if (outcome.dataset) quarantine_lineage["dataset_version"] = outcome.dataset->version;
    FALAJ_ASSIGN_OR_RETURN(
        outcome.quarantine,
        datasets_.AddVersion(request.project, source.dataset + ".quarantine", *quarantined,
                             {.kind = DatasetKind::kQuarantine,
                              .schema = QuarantineTableSchema(source.schema),
                              .report = outcome.validation,
                              .lineage = quarantine_lineage,
                              .created_by = request.principal}));
  }
  outcome.verdict = rejected                       ? "rejected"
                    : outcome.rows_quarantined > 0 ? "accepted_with_quarantine"
                                                   : "accepted";
  return outcome;
}

}  // namespace falaj::data
