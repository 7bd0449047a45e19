#include "features/view_rows.h"

#include <arrow/api.h>

#include "data/arrow_status.h"
#include "features/row_expression.h"

namespace falaj::features {

Result<std::shared_ptr<arrow::Table>> ViewRows(const FeatureView& view,
                                               std::shared_ptr<arrow::Table> source) {
  std::shared_ptr<arrow::Table> rows = std::move(source);
  for (const auto& transformation : view.transformations) {
    if (rows->schema()->GetFieldIndex(transformation.name) >= 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "feature view '{}': transformation '{}' names an existing column", view.name,
                       transformation.name);
    }
    FALAJ_ASSIGN_OR_RETURN(auto expression, RowExpression::Parse(transformation.expr));
    auto values = expression.Evaluate(*rows);
    if (!values) {
      return MakeError(ErrorCode::kInvalidArgument, "feature view '{}' transformation '{}': {}",
                       view.name, transformation.name, values.error().message);
    }
    FALAJ_ASSIGN_OR_RETURN(
        rows, data::FromArrow(rows->AddColumn(rows->num_columns(),
                                              arrow::field(transformation.name,
                                                           data::ArrowType(transformation.type)),
                                              *values),
                              "adding a transformed column"));
  }
  return rows;
}

Result<data::TableSchema> ViewSchema(const FeatureView& view, const data::TableSchema& source) {
  data::TableSchema schema = source;
  for (const auto& transformation : view.transformations) {
    const std::string where =
        fmt::format("feature view '{}' transformation '{}'", view.name, transformation.name);
    if (schema.Find(transformation.name)) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: the name is already a column", where);
    }
    FALAJ_ASSIGN_OR_RETURN(auto expression, RowExpression::Parse(transformation.expr));
    auto type = expression.Check(schema);
    if (!type) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: {}", where, type.error().message);
    }
    if (*type != transformation.type) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: the expression is {}, declared {}", where,
                       data::ColumnTypeName(*type), data::ColumnTypeName(transformation.type));
    }
    schema.columns.push_back(
        {.name = transformation.name, .type = *type, .nullable = true, .tags = {}});
  }
  return schema;
}

Result<std::vector<FeatureField>> TypedAggregateFeatures(const FeatureView& view,
                                                         const data::TableSchema& columns) {
  using data::ColumnType;
  std::vector<FeatureField> fields;
  for (const auto& feature : AggregateFeatures(view)) {
    const Aggregation& aggregation = view.aggregations[feature.aggregation];
    const std::string where =
        fmt::format("feature view '{}' aggregation {}({})", view.name,
                    AggregateFunctionName(aggregation.function), aggregation.column);
    FeatureField field{feature.name, ColumnType::kInt64};
    if (!aggregation.column.empty()) {
      const data::ColumnSchema* column = columns.Find(aggregation.column);
      if (!column) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "{}: no column '{}' in the source or the "
                         "transformations",
                         where, aggregation.column);
      }
      const bool numeric =
          column->type == ColumnType::kInt64 || column->type == ColumnType::kFloat64;
      const bool ordered = numeric || column->type == ColumnType::kTimestamp;
      switch (aggregation.function) {
        case AggregateFunction::kCount:
          break;
        case AggregateFunction::kSum:
        case AggregateFunction::kMean:
          if (!numeric) {
            return MakeError(ErrorCode::kInvalidArgument, "{}: column '{}' is {}, not a number",
                             where, column->name, data::ColumnTypeName(column->type));
          }
          field.type =
              aggregation.function == AggregateFunction::kSum ? column->type : ColumnType::kFloat64;
          break;
        case AggregateFunction::kMin:
        case AggregateFunction::kMax:
          if (!ordered) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "{}: column '{}' is {}, not a number or timestamp", where,
                             column->name, data::ColumnTypeName(column->type));
          }
          field.type = column->type;
          break;
      }
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

}  // namespace falaj::features
