// The declared schema of a source or dataset: named, typed columns with nullability and
// classification tags (pii, health, financial), which residency policies and erasure act on.
// Columns map onto Arrow types one to one: int64, float64, string (utf8), bool and timestamp
// (microseconds, UTC).
//
// Stateless and thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace arrow {
class DataType;
class Schema;
}  // namespace arrow

namespace falaj::data {

enum class ColumnType { kInt64, kFloat64, kString, kBool, kTimestamp };

std::string_view ColumnTypeName(ColumnType type);
// INVALID_ARGUMENT listing the known names when `name` is none of them.
Result<ColumnType> ParseColumnType(std::string_view name);

struct ColumnSchema {
  std::string name;
  ColumnType type = ColumnType::kString;
  bool nullable = true;
  std::vector<std::string> tags;  // classification: pii, health, financial
};

struct TableSchema {
  std::vector<ColumnSchema> columns;

  // nullptr when no column has that name.
  const ColumnSchema* Find(std::string_view name) const;
  // Every classification tag any column carries, sorted, without repeats.
  std::vector<std::string> Classifications() const;
};

// The classification tags a column may carry.
const std::vector<std::string>& KnownClassifications();

// Parses [{"name": "amount", "type": "float64", "nullable": false, "tags": ["financial"]}, …]:
// names are non-empty, unique, at most 128 characters, do not start with "_falaj_" (reserved
// for quarantine bookkeeping); at most 1000 columns; tags are known classifications.
Result<TableSchema> ParseTableSchema(const nlohmann::json& columns);
nlohmann::json TableSchemaJson(const TableSchema& schema);

std::shared_ptr<arrow::DataType> ArrowType(ColumnType type);
std::shared_ptr<arrow::Schema> ArrowSchema(const TableSchema& schema);
// The schema of an Arrow table (e.g. a Parquet file without a declared schema); other Arrow
// types are INVALID_ARGUMENT naming the column.
Result<TableSchema> SchemaFromArrow(const arrow::Schema& schema);

}  // namespace falaj::data
