#include "data/batch_readers.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/csv/api.h>
#include <arrow/io/api.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "data/arrow_status.h"
#include "data/parquet_io.h"
#include "data/typed_row_builder.h"

namespace falaj::data {
namespace {

struct MalformedLine {
  int64_t position = 0;
  std::string text;
  std::string reason;
};

DeliveredBatch NewBatch(const TableSchema& schema) {
  DeliveredBatch batch;
  batch.quarantine = std::make_unique<QuarantineBuilder>(schema);
  return batch;
}

Status CheckColumns(const std::vector<std::string>& names, const TableSchema& schema,
                    std::string_view what) {
  std::set<std::string_view> present(names.begin(), names.end());
  for (const auto& column : schema.columns) {
    if (!present.contains(column.name)) {
      return MakeError(ErrorCode::kInvalidArgument, "the {} has no column '{}' of the schema", what,
                       column.name);
    }
  }
  for (const auto& name : names) {
    if (!schema.Find(name)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the {} has column '{}', which the schema does not declare", what, name);
    }
  }
  if (present.size() != names.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "the {} names a column twice", what);
  }
  return Ok();
}

// Reads the CSV with every column as text; malformed lines are collected, not fatal.
Result<std::shared_ptr<arrow::Table>> ReadCsvAsText(std::string_view bytes,
                                                    std::vector<MalformedLine>& malformed) {
  auto read_options = arrow::csv::ReadOptions::Defaults();
  read_options.use_threads = false;  // keeps the invalid-row callback's line numbers in order
  auto parse_options = arrow::csv::ParseOptions::Defaults();
  parse_options.newlines_in_values = true;
  parse_options.invalid_row_handler = [&malformed](const arrow::csv::InvalidRow& row) {
    // Physical line numbers count the header as line 1.
    malformed.push_back({row.number >= 2 ? row.number - 2 : -1, std::string(row.text),
                         "malformed CSV line: expected " + std::to_string(row.expected_columns) +
                             " fields, found " + std::to_string(row.actual_columns)});
    return arrow::csv::InvalidRowResult::Skip;
  };
  auto convert_options = arrow::csv::ConvertOptions::Defaults();
  convert_options.default_column_type = arrow::utf8();
  convert_options.null_values = {""};
  convert_options.strings_can_be_null = true;
  convert_options.quoted_strings_can_be_null = false;
  auto input =
      std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(std::string(bytes)));
  auto reader = arrow::csv::TableReader::Make(arrow::io::default_io_context(), input, read_options,
                                              parse_options, convert_options);
  if (!reader.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "not readable as CSV: {}",
                     reader.status().message());
  }
  auto table = (*reader)->Read();
  if (!table.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "not readable as CSV: {}",
                     table.status().message());
  }
  return FromArrow((*table)->CombineChunks(), "reading CSV");
}

// Positions of the parsed rows: the batch positions the malformed lines did not take.
std::vector<int64_t> ParsedPositions(int64_t parsed, const std::vector<MalformedLine>& malformed) {
  std::set<int64_t> taken;
  for (const auto& line : malformed) taken.insert(line.position);
  std::vector<int64_t> positions;
  positions.reserve(parsed);
  for (int64_t position = 0; static_cast<int64_t>(positions.size()) < parsed; ++position) {
    if (!taken.contains(position)) positions.push_back(position);
  }
  return positions;
}

}  // namespace

Result<DeliveredBatch> ReadCsvBatch(std::string_view bytes, const TableSchema& schema) {
  std::vector<MalformedLine> malformed;
  FALAJ_ASSIGN_OR_RETURN(auto text, ReadCsvAsText(bytes, malformed));
  FALAJ_RETURN_IF_ERROR(CheckColumns(text->ColumnNames(), schema, "CSV header"));
  DeliveredBatch batch = NewBatch(schema);
  for (const auto& line : malformed) {
    FALAJ_RETURN_IF_ERROR(batch.quarantine->AddRaw(line.position, line.reason, line.text));
  }
  std::vector<const arrow::StringArray*> columns;
  for (const auto& column : schema.columns) {
    columns.push_back(
        static_cast<const arrow::StringArray*>(text->GetColumnByName(column.name)->chunk(0).get()));
  }
  const std::vector<int64_t> positions = ParsedPositions(text->num_rows(), malformed);
  TypedRowBuilder builder(schema);
  std::vector<Cell> cells(columns.size());
  std::vector<std::optional<std::string>> raw(columns.size());
  for (int64_t row = 0; row < text->num_rows(); ++row) {
    for (size_t i = 0; i < columns.size(); ++i) {
      cells[i] = columns[i]->IsNull(row) ? Cell{} : Cell{columns[i]->GetView(row)};
    }
    auto refusal = builder.AppendRow(cells);
    if (!refusal) {
      batch.batch_rows.push_back(positions[row]);
      continue;
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      raw[i] = columns[i]->IsNull(row) ? std::nullopt
                                       : std::optional<std::string>(columns[i]->GetString(row));
    }
    FALAJ_RETURN_IF_ERROR(batch.quarantine->AddRow(positions[row], *refusal, raw));
  }
  FALAJ_ASSIGN_OR_RETURN(batch.rows, builder.Finish());
  batch.delivered = text->num_rows() + static_cast<int64_t>(malformed.size());
  return batch;
}

Result<DeliveredBatch> ReadJsonObjectsBatch(std::span<const std::string_view> objects,
                                            const TableSchema& schema) {
  DeliveredBatch batch = NewBatch(schema);
  TypedRowBuilder builder(schema);
  std::vector<Cell> cells(schema.columns.size());
  std::vector<std::string> texts(schema.columns.size());
  for (size_t position = 0; position < objects.size(); ++position) {
    const auto row = static_cast<int64_t>(position);
    auto parsed = nlohmann::json::parse(objects[position], nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      FALAJ_RETURN_IF_ERROR(
          batch.quarantine->AddRaw(row, "row is not a JSON object", objects[position]));
      continue;
    }
    std::string unknown;
    for (const auto& [key, value] : parsed.items()) {
      if (!schema.Find(key)) unknown = key;
    }
    if (!unknown.empty()) {
      FALAJ_RETURN_IF_ERROR(
          batch.quarantine->AddRaw(row, "unknown column '" + unknown + "'", objects[position]));
      continue;
    }
    std::vector<std::optional<std::string>> raw(schema.columns.size());
    for (size_t i = 0; i < schema.columns.size(); ++i) {
      auto field = parsed.find(schema.columns[i].name);
      cells[i] = Cell{};
      if (field == parsed.end() || field->is_null()) continue;
      if (field->is_string()) {
        texts[i] = field->get<std::string>();
        cells[i] = std::string_view(texts[i]);
      } else if (field->is_boolean()) {
        cells[i] = field->get<bool>();
      } else if (field->is_number_integer()) {
        cells[i] = field->get<int64_t>();
      } else if (field->is_number_float()) {
        cells[i] = field->get<double>();
      } else {
        texts[i] = field->dump();
        cells[i] = std::string_view(texts[i]);
      }
      raw[i] = field->is_string() ? texts[i] : field->dump();
    }
    if (auto refusal = builder.AppendRow(cells)) {
      FALAJ_RETURN_IF_ERROR(batch.quarantine->AddRow(row, *refusal, raw));
    } else {
      batch.batch_rows.push_back(row);
    }
  }
  FALAJ_ASSIGN_OR_RETURN(batch.rows, builder.Finish());
  batch.delivered = static_cast<int64_t>(objects.size());
  return batch;
}

Result<DeliveredBatch> ReadJsonRowsBatch(std::string_view body, const TableSchema& schema) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the body must be a JSON object {{\"rows\": [...]}}");
  }
  for (const auto& [key, value] : parsed.items()) {
    if (key != "rows") {
      return MakeError(ErrorCode::kInvalidArgument, "unknown field '{}'; expected only 'rows'",
                       key);
    }
  }
  auto rows = parsed.find("rows");
  if (rows == parsed.end() || !rows->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "field 'rows' must be an array of objects");
  }
  std::vector<std::string> texts;
  texts.reserve(rows->size());
  for (const auto& row : *rows) texts.push_back(row.dump());
  std::vector<std::string_view> views(texts.begin(), texts.end());
  return ReadJsonObjectsBatch(views, schema);
}

Result<DeliveredBatch> ReadParquetBatch(std::string_view bytes, const TableSchema& schema) {
  FALAJ_ASSIGN_OR_RETURN(auto table, ReadParquet(bytes));
  FALAJ_RETURN_IF_ERROR(CheckColumns(table->ColumnNames(), schema, "Parquet file"));
  arrow::ChunkedArrayVector columns;
  for (const auto& column : schema.columns) {
    auto cast = arrow::compute::Cast(table->GetColumnByName(column.name), ArrowType(column.type));
    if (!cast.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, "Parquet column '{}' cannot be read as {}: {}",
                       column.name, ColumnTypeName(column.type), cast.status().message());
    }
    columns.push_back(cast->chunked_array());
  }
  DeliveredBatch batch = NewBatch(schema);
  batch.rows = arrow::Table::Make(ArrowSchema(schema), std::move(columns), table->num_rows());
  batch.batch_rows.resize(table->num_rows());
  for (int64_t i = 0; i < table->num_rows(); ++i) batch.batch_rows[i] = i;
  batch.delivered = table->num_rows();
  return batch;
}

}  // namespace falaj::data
