#include "data/table_schema.h"

#include <arrow/api.h>

#include <algorithm>
#include <set>

namespace falaj::data {
namespace {

constexpr size_t kMaxColumns = 1000;
constexpr size_t kMaxNameLength = 128;
constexpr std::string_view kReservedPrefix = "_falaj_";

struct TypeName {
  ColumnType type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {{ColumnType::kInt64, "int64"},
                                   {ColumnType::kFloat64, "float64"},
                                   {ColumnType::kString, "string"},
                                   {ColumnType::kBool, "bool"},
                                   {ColumnType::kTimestamp, "timestamp"}};

Result<ColumnSchema> ParseColumn(const nlohmann::json& column, size_t index) {
  if (!column.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "schema column {} must be an object", index);
  }
  for (const auto& [key, value] : column.items()) {
    if (key != "name" && key != "type" && key != "nullable" && key != "tags") {
      return MakeError(ErrorCode::kInvalidArgument, "schema column {}: unknown field '{}'", index,
                       key);
    }
  }
  ColumnSchema parsed;
  auto name = column.find("name");
  if (name == column.end() || !name->is_string() || name->get<std::string>().empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "schema column {}: 'name' must be a non-empty string", index);
  }
  parsed.name = name->get<std::string>();
  if (parsed.name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "schema column {}: name is longer than {} characters", index, kMaxNameLength);
  }
  if (parsed.name.starts_with(kReservedPrefix)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "schema column '{}': names starting with '{}' are reserved", parsed.name,
                     kReservedPrefix);
  }
  auto type = column.find("type");
  if (type == column.end() || !type->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "schema column '{}': 'type' must be a string",
                     parsed.name);
  }
  auto column_type = ParseColumnType(type->get<std::string>());
  if (!column_type) {
    return MakeError(ErrorCode::kInvalidArgument, "schema column '{}': {}", parsed.name,
                     column_type.error().message);
  }
  parsed.type = *column_type;
  if (auto nullable = column.find("nullable"); nullable != column.end()) {
    if (!nullable->is_boolean()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "schema column '{}': 'nullable' must be a boolean", parsed.name);
    }
    parsed.nullable = nullable->get<bool>();
  }
  if (auto tags = column.find("tags"); tags != column.end()) {
    if (!tags->is_array()) {
      return MakeError(ErrorCode::kInvalidArgument, "schema column '{}': 'tags' must be an array",
                       parsed.name);
    }
    const auto& known = KnownClassifications();
    for (const auto& tag : *tags) {
      if (!tag.is_string() ||
          std::find(known.begin(), known.end(), tag.get<std::string>()) == known.end()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "schema column '{}': tag {} is not one of pii, health, financial",
                         parsed.name, tag.dump());
      }
      parsed.tags.push_back(tag.get<std::string>());
    }
  }
  return parsed;
}

}  // namespace

std::string_view ColumnTypeName(ColumnType type) {
  for (const auto& entry : kTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

Result<ColumnType> ParseColumnType(std::string_view name) {
  for (const auto& entry : kTypeNames) {
    if (entry.name == name) return entry.type;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "type '{}' is not supported; known: int64, float64, string, bool, timestamp",
                   name);
}

const std::vector<std::string>& KnownClassifications() {
  static const std::vector<std::string> kKnown = {"pii", "health", "financial"};
  return kKnown;
}

const ColumnSchema* TableSchema::Find(std::string_view name) const {
  for (const auto& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

std::vector<std::string> TableSchema::Classifications() const {
  std::set<std::string> tags;
  for (const auto& column : columns) tags.insert(column.tags.begin(), column.tags.end());
  return {tags.begin(), tags.end()};
}

Result<TableSchema> ParseTableSchema(const nlohmann::json& columns) {
  if (!columns.is_array() || columns.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the schema must be a non-empty array of columns");
  }
  if (columns.size() > kMaxColumns) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the schema has {} columns; at most {} are allowed", columns.size(),
                     kMaxColumns);
  }
  TableSchema schema;
  std::set<std::string> names;
  for (size_t i = 0; i < columns.size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(auto column, ParseColumn(columns[i], i));
    if (!names.insert(column.name).second) {
      return MakeError(ErrorCode::kInvalidArgument, "schema column '{}' appears twice",
                       column.name);
    }
    schema.columns.push_back(std::move(column));
  }
  return schema;
}

nlohmann::json TableSchemaJson(const TableSchema& schema) {
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& column : schema.columns) {
    columns.push_back({{"name", column.name},
                       {"type", ColumnTypeName(column.type)},
                       {"nullable", column.nullable},
                       {"tags", column.tags}});
  }
  return columns;
}

std::shared_ptr<arrow::DataType> ArrowType(ColumnType type) {
  switch (type) {
    case ColumnType::kInt64:
      return arrow::int64();
    case ColumnType::kFloat64:
      return arrow::float64();
    case ColumnType::kString:
      return arrow::utf8();
    case ColumnType::kBool:
      return arrow::boolean();
    case ColumnType::kTimestamp:
      return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  }
  return arrow::utf8();
}

std::shared_ptr<arrow::Schema> ArrowSchema(const TableSchema& schema) {
  arrow::FieldVector fields;
  for (const auto& column : schema.columns) {
    fields.push_back(arrow::field(column.name, ArrowType(column.type), column.nullable));
  }
  return arrow::schema(std::move(fields));
}

Result<TableSchema> SchemaFromArrow(const arrow::Schema& schema) {
  TableSchema result;
  for (const auto& field : schema.fields()) {
    ColumnSchema column{.name = field->name(), .nullable = field->nullable(), .tags = {}};
    switch (field->type()->id()) {
      case arrow::Type::INT8:
      case arrow::Type::INT16:
      case arrow::Type::INT32:
      case arrow::Type::INT64:
      case arrow::Type::UINT8:
      case arrow::Type::UINT16:
      case arrow::Type::UINT32:
        column.type = ColumnType::kInt64;
        break;
      case arrow::Type::HALF_FLOAT:
      case arrow::Type::FLOAT:
      case arrow::Type::DOUBLE:
        column.type = ColumnType::kFloat64;
        break;
      case arrow::Type::STRING:
      case arrow::Type::LARGE_STRING:
        column.type = ColumnType::kString;
        break;
      case arrow::Type::BOOL:
        column.type = ColumnType::kBool;
        break;
      case arrow::Type::TIMESTAMP:
      case arrow::Type::DATE32:
      case arrow::Type::DATE64:
        column.type = ColumnType::kTimestamp;
        break;
      default:
        return MakeError(ErrorCode::kInvalidArgument,
                         "column '{}' has Arrow type {}, which datasets do not support; use int64, "
                         "float64, string, bool or timestamp",
                         field->name(), field->type()->ToString());
    }
    result.columns.push_back(std::move(column));
  }
  return result;
}

}  // namespace falaj::data
