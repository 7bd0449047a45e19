// Internal to the point-in-time join (point_in_time_join.cc): planning, which checks every input
// before any work starts (columns, key and timestamp types, view definitions) and names the output
// columns, so that a bad request fails fast and whole, with an error naming the column and view.
//
// Thread-safety: pure functions over immutable Arrow tables; thread-safe.
#pragma once

#include <arrow/chunked_array.h>
#include <arrow/table.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "features/point_in_time_join.h"

namespace falaj::features::pit {

// What to fetch from one view, and under which names.
struct ViewPlan {
  const FeatureViewData* view = nullptr;
  std::vector<std::string> features;      // source columns
  std::vector<std::string> output_names;  // same order
};

// The column `name` of `table`, or INVALID_ARGUMENT naming it and `where` (the table's
// description in errors) when it is missing or not unique.
Result<std::shared_ptr<arrow::ChunkedArray>> Column(const arrow::Table& table,
                                                    const std::string& name,
                                                    const std::string& where);

// One plan per view, in view order, or the first problem found (see PointInTimeJoin).
Result<std::vector<ViewPlan>> PlanAll(const arrow::Table& entities,
                                      std::span<const FeatureViewData> views,
                                      const PointInTimeJoinOptions& options);

}  // namespace falaj::features::pit
