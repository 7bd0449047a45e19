#include "data/quarantine.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include "data/arrow_status.h"

namespace falaj::data {

std::shared_ptr<arrow::Schema> QuarantineSchema(const TableSchema& schema) {
  arrow::FieldVector fields;
  for (const auto& column : schema.columns)
    fields.push_back(arrow::field(column.name, arrow::utf8()));
  fields.push_back(arrow::field(std::string(kRuleColumn), arrow::utf8(), false));
  fields.push_back(arrow::field(std::string(kRowColumn), arrow::int64(), false));
  fields.push_back(arrow::field(std::string(kRawColumn), arrow::utf8()));
  return arrow::schema(std::move(fields));
}

TableSchema QuarantineTableSchema(const TableSchema& schema) {
  TableSchema text = schema;
  for (auto& column : text.columns) {
    column.type = ColumnType::kString;
    column.nullable = true;
  }
  return text;
}

QuarantineBuilder::QuarantineBuilder(TableSchema schema)
    : schema_(std::move(schema)),
      rule_(std::make_unique<arrow::StringBuilder>()),
      row_(std::make_unique<arrow::Int64Builder>()),
      raw_(std::make_unique<arrow::StringBuilder>()) {
  for (size_t i = 0; i < schema_.columns.size(); ++i) {
    columns_.push_back(std::make_unique<arrow::StringBuilder>());
  }
}

QuarantineBuilder::~QuarantineBuilder() = default;

Status QuarantineBuilder::AppendBookkeeping(int64_t row, std::string_view rule,
                                            const std::optional<std::string_view>& raw) {
  FALAJ_RETURN_IF_ERROR(FromArrow(rule_->Append(rule), "quarantine"));
  FALAJ_RETURN_IF_ERROR(FromArrow(row_->Append(row), "quarantine"));
  FALAJ_RETURN_IF_ERROR(FromArrow(raw ? raw_->Append(*raw) : raw_->AppendNull(), "quarantine"));
  ++rows_;
  return Ok();
}

Status QuarantineBuilder::AddRow(int64_t row, std::string_view rule,
                                 std::span<const std::optional<std::string>> values) {
  for (size_t i = 0; i < columns_.size(); ++i) {
    const bool present = i < values.size() && values[i].has_value();
    FALAJ_RETURN_IF_ERROR(FromArrow(
        present ? columns_[i]->Append(*values[i]) : columns_[i]->AppendNull(), "quarantine"));
  }
  return AppendBookkeeping(row, rule, std::nullopt);
}

Status QuarantineBuilder::AddRaw(int64_t row, std::string_view rule, std::string_view raw) {
  for (auto& column : columns_)
    FALAJ_RETURN_IF_ERROR(FromArrow(column->AppendNull(), "quarantine"));
  return AppendBookkeeping(row, rule, raw);
}

Status QuarantineBuilder::AddTyped(const arrow::Table& rows, std::span<const std::string> rules,
                                   std::span<const int64_t> batch_rows) {
  if (rules.size() != static_cast<size_t>(rows.num_rows()) || batch_rows.size() != rules.size()) {
    return MakeError(ErrorCode::kInternal, "quarantine: {} rows but {} rules and {} positions",
                     rows.num_rows(), rules.size(), batch_rows.size());
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    auto column = rows.GetColumnByName(schema_.columns[i].name);
    if (!column) {
      return MakeError(ErrorCode::kInternal, "quarantine: column '{}' is missing",
                       schema_.columns[i].name);
    }
    auto as_text = arrow::compute::Cast(column, arrow::utf8());
    FALAJ_RETURN_IF_ERROR(FromArrow(as_text.status(), "quarantine: printing a value"));
    for (const auto& chunk : as_text->chunked_array()->chunks()) {
      const auto& strings = static_cast<const arrow::StringArray&>(*chunk);
      for (int64_t j = 0; j < strings.length(); ++j) {
        FALAJ_RETURN_IF_ERROR(FromArrow(
            strings.IsNull(j) ? columns_[i]->AppendNull() : columns_[i]->Append(strings.GetView(j)),
            "quarantine"));
      }
    }
  }
  for (size_t j = 0; j < rules.size(); ++j) {
    FALAJ_RETURN_IF_ERROR(AppendBookkeeping(batch_rows[j], rules[j], std::nullopt));
  }
  return Ok();
}

Result<std::shared_ptr<arrow::Table>> QuarantineBuilder::Finish() {
  arrow::ArrayVector arrays;
  auto finish = [&arrays](arrow::ArrayBuilder& builder) -> Status {
    std::shared_ptr<arrow::Array> array;
    FALAJ_RETURN_IF_ERROR(FromArrow(builder.Finish(&array), "quarantine"));
    arrays.push_back(std::move(array));
    return Ok();
  };
  for (auto& column : columns_) FALAJ_RETURN_IF_ERROR(finish(*column));
  FALAJ_RETURN_IF_ERROR(finish(*rule_));
  FALAJ_RETURN_IF_ERROR(finish(*row_));
  FALAJ_RETURN_IF_ERROR(finish(*raw_));
  return arrow::Table::Make(QuarantineSchema(schema_), std::move(arrays), rows_);
}

}  // namespace falaj::data
