// A feature view's rows as every consumer reads them: the source's rows with the view's
// transformed columns appended. Training sets and materialisation (full, incremental and
// streaming) all call ViewRows(), so offline and online values come from one computation. Also
// the view's column schema (source columns plus transformed ones) and the typing of aggregate
// features, which the registry checks when a view is applied.
//
// Pure functions; thread-safe.
#pragma once

#include <arrow/type_fwd.h>

#include <memory>
#include <vector>

#include "common/result.h"
#include "data/table_schema.h"
#include "features/feature_definitions.h"

namespace falaj::features {

// `source` with one column per transformation appended, computed in declaration order (a
// transformation may use the ones before it). INVALID_ARGUMENT when a transformation fails (a
// missing column, integer overflow) or a name is taken; the rows as they are without
// transformations.
Result<std::shared_ptr<arrow::Table>> ViewRows(const FeatureView& view,
                                               std::shared_ptr<arrow::Table> source);

// The source's columns plus the view's transformed columns. INVALID_ARGUMENT naming the view and
// transformation when an expression does not type-check against the columns before it, its type
// differs from the declared one, or its name is already a column.
Result<data::TableSchema> ViewSchema(const FeatureView& view, const data::TableSchema& source);

// The features of an aggregation view with their types: count is int64, mean float64, sum the
// column's numeric type, min and max the column's type (int64, float64 or timestamp).
// INVALID_ARGUMENT naming the aggregation when its column is missing or of the wrong type.
Result<std::vector<FeatureField>> TypedAggregateFeatures(const FeatureView& view,
                                                         const data::TableSchema& columns);

}  // namespace falaj::features
