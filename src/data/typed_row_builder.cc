#include "data/typed_row_builder.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <cmath>

#include "data/value_parsing.h"

namespace falaj::data {
namespace {

constexpr size_t kShownValueLength = 40;

std::string Shown(const Cell& cell) {
  std::string text = CellText(cell);
  if (text.size() > kShownValueLength) text = text.substr(0, kShownValueLength) + "…";
  return text;
}

std::string Refusal(const ColumnSchema& column, const Cell& cell) {
  return fmt::format("{}: expected {}, got '{}'", column.name, ColumnTypeName(column.type),
                     Shown(cell));
}

// The exact int64 a double holds, if it holds one.
std::optional<int64_t> ExactInteger(double value) {
  if (!std::isfinite(value) || value != std::trunc(value) || std::fabs(value) > 9.0e18) {
    return std::nullopt;
  }
  return static_cast<int64_t>(value);
}

}  // namespace

std::string CellText(const Cell& cell) {
  if (const auto* text = std::get_if<std::string_view>(&cell)) return std::string(*text);
  if (const auto* integer = std::get_if<int64_t>(&cell)) return std::to_string(*integer);
  if (const auto* real = std::get_if<double>(&cell)) return fmt::format("{}", *real);
  if (const auto* boolean = std::get_if<bool>(&cell)) return *boolean ? "true" : "false";
  return "";
}

TypedRowBuilder::TypedRowBuilder(TableSchema schema) : schema_(std::move(schema)) {
  for (const auto& column : schema_.columns) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    auto status =
        arrow::MakeBuilder(arrow::default_memory_pool(), ArrowType(column.type), &builder);
    // Builders for these five primitive types cannot fail to be made.
    if (!status.ok()) std::abort();
    builders_.push_back(std::move(builder));
  }
  scratch_.resize(schema_.columns.size());
}

TypedRowBuilder::~TypedRowBuilder() = default;

std::optional<std::string> TypedRowBuilder::Convert(const ColumnSchema& column, const Cell& cell,
                                                    Converted& out) const {
  if (std::holds_alternative<std::monostate>(cell)) {
    out = std::monostate{};
    return std::nullopt;
  }
  const auto* text = std::get_if<std::string_view>(&cell);
  switch (column.type) {
    case ColumnType::kString:
      if (!text) return Refusal(column, cell);
      out = *text;
      return std::nullopt;
    case ColumnType::kInt64: {
      std::optional<int64_t> value;
      if (text) value = ParseInt64(*text);
      if (const auto* integer = std::get_if<int64_t>(&cell)) value = *integer;
      if (const auto* real = std::get_if<double>(&cell)) value = ExactInteger(*real);
      if (!value) return Refusal(column, cell);
      out = *value;
      return std::nullopt;
    }
    case ColumnType::kFloat64: {
      std::optional<double> value;
      if (text) value = ParseFloat64(*text);
      if (const auto* integer = std::get_if<int64_t>(&cell)) value = static_cast<double>(*integer);
      if (const auto* real = std::get_if<double>(&cell)) value = *real;
      if (!value) return Refusal(column, cell);
      out = *value;
      return std::nullopt;
    }
    case ColumnType::kBool: {
      std::optional<bool> value;
      if (text) value = ParseBool(*text);
      if (const auto* boolean = std::get_if<bool>(&cell)) value = *boolean;
      if (!value) return Refusal(column, cell);
      out = *value;
      return std::nullopt;
    }
    case ColumnType::kTimestamp: {
      std::optional<int64_t> micros;
      if (text) micros = ParseTimestampMicros(*text);
      // Numbers are Unix seconds, as IoT devices commonly send them.
      if (const auto* integer = std::get_if<int64_t>(&cell)) {
        if (std::abs(*integer) < 9'000'000'000'000) micros = *integer * 1'000'000;
      }
      if (const auto* real = std::get_if<double>(&cell)) {
        if (std::isfinite(*real) && std::fabs(*real) < 9.0e12) {
          micros = static_cast<int64_t>(std::llround(*real * 1e6));
        }
      }
      if (!micros) return Refusal(column, cell);
      out = *micros;
      return std::nullopt;
    }
  }
  return Refusal(column, cell);
}

std::optional<std::string> TypedRowBuilder::AppendRow(std::span<const Cell> cells) {
  for (size_t i = 0; i < schema_.columns.size(); ++i) {
    const Cell& cell = i < cells.size() ? cells[i] : Cell{};
    if (auto refusal = Convert(schema_.columns[i], cell, scratch_[i])) return refusal;
  }
  for (size_t i = 0; i < schema_.columns.size(); ++i) {
    arrow::Status status;
    arrow::ArrayBuilder& builder = *builders_[i];
    const Converted& value = scratch_[i];
    if (std::holds_alternative<std::monostate>(value)) {
      status = builder.AppendNull();
    } else {
      switch (schema_.columns[i].type) {
        case ColumnType::kString:
          status =
              static_cast<arrow::StringBuilder&>(builder).Append(std::get<std::string_view>(value));
          break;
        case ColumnType::kInt64:
          status = static_cast<arrow::Int64Builder&>(builder).Append(std::get<int64_t>(value));
          break;
        case ColumnType::kFloat64:
          status = static_cast<arrow::DoubleBuilder&>(builder).Append(std::get<double>(value));
          break;
        case ColumnType::kBool:
          status = static_cast<arrow::BooleanBuilder&>(builder).Append(std::get<bool>(value));
          break;
        case ColumnType::kTimestamp:
          status = static_cast<arrow::TimestampBuilder&>(builder).Append(std::get<int64_t>(value));
          break;
      }
    }
    // Appending to an in-memory builder fails only when memory runs out.
    if (!status.ok()) return fmt::format("{}: {}", schema_.columns[i].name, status.ToString());
  }
  ++rows_;
  return std::nullopt;
}

Result<std::shared_ptr<arrow::Table>> TypedRowBuilder::Finish() {
  arrow::ArrayVector arrays;
  for (auto& builder : builders_) {
    std::shared_ptr<arrow::Array> array;
    auto status = builder->Finish(&array);
    if (!status.ok())
      return MakeError(ErrorCode::kInternal, "building a column: {}", status.ToString());
    arrays.push_back(std::move(array));
  }
  return arrow::Table::Make(ArrowSchema(schema_), std::move(arrays), rows_);
}

}  // namespace falaj::data
