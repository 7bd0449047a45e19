// Value types of experiment tracking: experiments, runs and what is logged on them (params, tags,
// metric points), plus the limits MLflow's clients chunk their batches to. Plain data; no
// behaviour, so trivially thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace falaj::tracking {

// The limits of one log-batch request, as MLflow's server enforces them: clients split their
// batches to exactly these, so accepting less would break them and more buys nothing.
inline constexpr size_t kMaxBatchMetrics = 1000;
inline constexpr size_t kMaxBatchParams = 100;
inline constexpr size_t kMaxBatchTags = 100;
inline constexpr size_t kMaxKeyLength = 250;
inline constexpr size_t kMaxParamValueBytes = 6000;
inline constexpr size_t kMaxTagValueBytes = 8000;

// The tag MLflow's client sets on nested runs; it is also stored as the run's parent.
inline constexpr const char* kParentRunTag = "mlflow.parentRunId";
inline constexpr const char* kRunNameTag = "mlflow.runName";
// Experiment "0", which MLflow clients use when none is set; created on first reference.
inline constexpr const char* kDefaultExperimentName = "Default";

enum class Lifecycle { kActive, kDeleted };
// Which lifecycle a search or listing returns (MLflow's ViewType).
enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

struct Experiment {
  std::string project;
  std::string experiment_id;  // decimal, assigned per project
  std::string name;
  std::string artifact_location;
  Lifecycle lifecycle = Lifecycle::kActive;
  std::map<std::string, std::string> tags;
  int64_t creation_time_ms = 0;
  int64_t last_update_time_ms = 0;
};

struct MetricPoint {
  std::string key;
  double value = 0;  // NaN and ±Inf are allowed
  int64_t timestamp_ms = 0;
  int64_t step = 0;
};

struct RunInfo {
  std::string run_id;  // 32 lowercase hex digits
  std::string experiment_id;
  std::string run_name;
  std::string user_id;
  std::string status = "RUNNING";  // RUNNING, SCHEDULED, FINISHED, FAILED or KILLED
  int64_t start_time_ms = 0;
  std::optional<int64_t> end_time_ms;
  std::string artifact_uri;
  Lifecycle lifecycle = Lifecycle::kActive;
  std::string parent_run_id;  // "" for a top-level run
};

struct Run {
  RunInfo info;
  std::vector<MetricPoint> latest_metrics;  // one per key, sorted by key
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
};

struct NewRun {
  std::string experiment_id;
  std::string run_name;
  std::string user_id;
  std::optional<int64_t> start_time_ms;  // now when absent
  std::map<std::string, std::string> tags;
};

struct RunUpdate {
  std::optional<std::string> status;
  std::optional<int64_t> end_time_ms;
  std::optional<std::string> run_name;
};

struct Batch {
  std::vector<MetricPoint> metrics;
  std::vector<std::pair<std::string, std::string>> params;  // in request order
  std::vector<std::pair<std::string, std::string>> tags;
};

struct RunSearch {
  std::vector<std::string> experiment_ids;
  std::string filter;                 // MLflow search grammar; "" matches every run
  std::vector<std::string> order_by;  // e.g. "metrics.auc DESC"
  ViewType view = ViewType::kActiveOnly;
  size_t max_results = 1000;
  std::string page_token;  // opaque, from a previous page
};

struct RunPage {
  std::vector<Run> runs;
  std::string next_page_token;  // "" on the last page
};

struct MetricHistoryPage {
  std::vector<MetricPoint> metrics;
  std::string next_page_token;
};

// Runs side by side: one row per param or metric key any of them has, with a value (or none)
// per run in the order the runs were asked for.
inline constexpr size_t kMaxComparedRuns = 100;

struct ParamComparison {
  std::string key;
  std::vector<std::optional<std::string>> values;  // one per run
  bool differs = false;  // not every run has the same value (a missing value counts as one)
};

struct MetricComparison {
  std::string key;
  std::vector<std::optional<MetricPoint>> latest;  // one per run
  bool differs = false;                            // as for params; NaN equals NaN here
};

struct RunComparison {
  std::vector<RunInfo> runs;
  std::vector<ParamComparison> params;    // by key
  std::vector<MetricComparison> metrics;  // by key
};

std::string_view LifecycleName(Lifecycle lifecycle);  // "active" or "deleted"
bool IsRunStatus(std::string_view status);

}  // namespace falaj::tracking
