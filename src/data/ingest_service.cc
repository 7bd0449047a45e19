#include "data/ingest_service.h"

#include <arrow/api.h>

#include "data/batch_readers.h"
#include "data/column_profile.h"
#include "data/postgres_source.h"
#include "data/validation_rules.h"
#include "data/validator.h"
#include "data/value_text.h"

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
    case BatchFormat::kJsonObjects:
      return ReadJsonObjectsBatch(request.objects, schema);
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown batch format");
}

std::string_view FormatName(BatchFormat format) {
  switch (format) {
    case BatchFormat::kCsv:
      return "csv";
    case BatchFormat::kParquet:
      return "parquet";
    case BatchFormat::kJsonRows:
      return "json";
    case BatchFormat::kJsonObjects:
      return "mqtt";
  }
  return "unknown";
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

nlohmann::json PullOutcomeJson(const PullOutcome& outcome) {
  nlohmann::json batches = nlohmann::json::array();
  for (const auto& batch : outcome.batches) batches.push_back(IngestOutcomeJson(batch));
  auto micros = [](const std::optional<int64_t>& value) -> nlohmann::json {
    if (!value) return nullptr;
    return FormatIsoTimestamp(*value, 1000000);
  };
  return {{"batches", batches},
          {"watermark_before", micros(outcome.watermark_before)},
          {"watermark_after", micros(outcome.watermark_after)}};
}

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
  if (request.format == BatchFormat::kJsonObjects) {
    FALAJ_ASSIGN_OR_RETURN(auto batch, ReadJsonObjectsBatch(request.objects, source.schema));
    return IngestBatch(source, std::move(batch), "mqtt", request.principal);
  }
  FALAJ_ASSIGN_OR_RETURN(auto batch, Read(request, source.schema));
  return IngestBatch(source, std::move(batch), FormatName(request.format), request.principal);
}

Result<PullOutcome> IngestService::Pull(std::string_view project, std::string_view name,
                                        std::string_view principal) {
  FALAJ_ASSIGN_OR_RETURN(auto source, sources_.Get(project, name));
  if (source.kind != "postgresql") {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "source '{}' is a {} source; only postgresql sources are pulled", name,
                     source.kind);
  }
  FALAJ_ASSIGN_OR_RETURN(auto config, ParsePostgresConfig(source.config));
  FALAJ_ASSIGN_OR_RETURN(auto watermark, sources_.Watermark(project, name));
  PullOutcome pulled;
  pulled.watermark_before = watermark;
  FALAJ_ASSIGN_OR_RETURN(
      auto pull, PostgresPull::Open(config, source.schema,
                                    config.timestamp_column.empty() ? std::nullopt : watermark));
  while (true) {
    FALAJ_ASSIGN_OR_RETURN(auto next, pull->Next());
    if (next.rows_read > 0 || next.batch.quarantine->rows() > 0) {
      FALAJ_ASSIGN_OR_RETURN(auto outcome,
                             IngestBatch(source, std::move(next.batch), "postgresql", principal));
      pulled.batches.push_back(std::move(outcome));
      // Recorded per batch: a failure later resumes after what is already stored.
      if (next.watermark) {
        FALAJ_RETURN_IF_ERROR(sources_.SetWatermark(project, name, *next.watermark));
        pulled.watermark_after = next.watermark;
      }
    }
    if (!next.more) break;
  }
  if (!pulled.watermark_after) pulled.watermark_after = watermark;
  return pulled;
}

Result<IngestOutcome> IngestService::IngestBatch(const Source& source, DeliveredBatch batch,
                                                 std::string_view format,
                                                 std::string_view principal) {
  const std::string& project = source.project;
  FALAJ_ASSIGN_OR_RETURN(auto rules, EffectiveRules(source));
  FALAJ_ASSIGN_OR_RETURN(auto report, Validate(*batch.rows, rules, clock_.Now()));
  FALAJ_ASSIGN_OR_RETURN(auto split, SplitByReport(batch.rows, report));
  FALAJ_RETURN_IF_ERROR(Quarantine(batch, *split.quarantined));

  IngestOutcome outcome;
  outcome.rows_delivered = batch.delivered;
  outcome.validation = ReportToJson(report);
  outcome.validation["rows_untyped"] = batch.delivered - batch.rows->num_rows();
  const nlohmann::json lineage = {
      {"source", source.name}, {"source_revision", source.revision}, {"format", format}};
  const bool rejected = report.verdict == Verdict::kRejected;
  if (!rejected && split.accepted->num_rows() > 0) {
    FALAJ_ASSIGN_OR_RETURN(auto profile, ProfileTable(*split.accepted));
    FALAJ_ASSIGN_OR_RETURN(outcome.dataset,
                           datasets_.AddVersion(project, source.dataset, *split.accepted,
                                                {.kind = DatasetKind::kIngested,
                                                 .schema = source.schema,
                                                 .profile = ProfileToJson(profile),
                                                 .report = outcome.validation,
                                                 .lineage = lineage,
                                                 .created_by = std::string(principal)}));
    outcome.rows_accepted = split.accepted->num_rows();
    if (on_accepted_) {
      if (Status streamed =
              on_accepted_(project, source.name, *split.accepted, outcome.dataset->version);
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
        datasets_.AddVersion(project, source.dataset + ".quarantine", *quarantined,
                             {.kind = DatasetKind::kQuarantine,
                              .schema = QuarantineTableSchema(source.schema),
                              .report = outcome.validation,
                              .lineage = quarantine_lineage,
                              .created_by = std::string(principal)}));
  }
  outcome.verdict = rejected                       ? "rejected"
                    : outcome.rows_quarantined > 0 ? "accepted_with_quarantine"
                                                   : "accepted";
  return outcome;
}

}  // namespace falaj::data
