// Reading runs and metric points from tracking tables; internal to the tracking module. Stateless.
#pragma once

#include <cmath>
#include <limits>
#include <string_view>

#include "storage/metadata_store.h"
#include "tracking/tracking_types.h"

namespace falaj::tracking {

inline constexpr std::string_view kRunColumns =
    "SELECT run_id, experiment_id, name, user_id, status, start_time_ms, end_time_ms, "
    "lifecycle, parent_run_id, artifact_uri FROM tracking_runs";

inline RunInfo RunInfoFromRow(const storage::Row& row) {
  RunInfo info;
  info.run_id = row.Text(0);
  info.experiment_id = std::to_string(row.Int(1));
  info.run_name = row.Text(2);
  info.user_id = row.Text(3);
  info.status = row.Text(4);
  info.start_time_ms = row.Int(5);
  if (!row.IsNull(6)) info.end_time_ms = row.Int(6);
  info.lifecycle = row.Text(7) == "deleted" ? Lifecycle::kDeleted : Lifecycle::kActive;
  info.parent_run_id = row.Text(8);
  info.artifact_uri = row.Text(9);
  return info;
}

// NaN is stored as NULL (see the migration).
inline storage::SqlValue MetricValue(double value) {
  if (std::isnan(value)) return nullptr;
  return value;
}
inline double MetricValueFromRow(const storage::Row& row, size_t column) {
  return row.IsNull(column) ? std::numeric_limits<double>::quiet_NaN() : row.Real(column);
}

}  // namespace falaj::tracking
