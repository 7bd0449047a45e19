#include "monitoring/monitor_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/json_fields.h"
#include "common/logging.h"
#include "common/random.h"

namespace falaj::monitoring {
namespace {

constexpr size_t kMaxReportsListed = 500;

}  // namespace

MonitorService::MonitorService(storage::MetadataStore& store, ReferenceSource& references,
                               MonitoredValues& values, metrics::Registry& metrics,
                               const Clock& clock)
    : store_(store),
      references_(references),
      values_(values),
      clock_(clock),
      drift_score_(metrics.AddGauge("falaj_monitor_drift_score",
                                    "Drift score of a monitored feature in its last closed window",
                                    {"project", "monitor", "feature"})),
      drift_share_(metrics.AddGauge("falaj_monitor_drift_share",
                                    "Share of a monitor's features that drifted in its last report",
                                    {"project", "monitor"})),
      missing_rate_(metrics.AddGauge("falaj_monitor_missing_rate",
                                     "Share of missing values of a feature in the last report",
                                     {"project", "monitor", "feature"})),
      prediction_score_(metrics.AddGauge("falaj_monitor_prediction_drift_score",
                                         "Drift score of the model's prediction in the last report",
                                         {"project", "monitor"})),
      label_metric_(metrics.AddGauge("falaj_monitor_label_metric",
                                     "Model quality from delayed labels in the last report",
                                     {"project", "monitor", "metric"})),
      window_rows_(metrics.AddGauge("falaj_monitor_window_rows", "Rows of the last report",
                                    {"project", "monitor"})) {}

MonitorService::~MonitorService() { Stop(); }

int64_t MonitorService::NowMs() const { return ToUnixMillis(clock_.Now()); }

std::string MonitorService::MonitorKey(std::string_view project, std::string_view name) {
  return fmt::format("{}\n{}", project, name);
}

void MonitorService::TrafficKey(std::string& out, std::string_view project, bool endpoint,
                                std::string_view name) {
  out.assign(project);
  out.push_back('\n');
  out.push_back(endpoint ? 'e' : 'm');
  out.append(name);
}

Status MonitorService::Start(std::chrono::milliseconds tick) {
  FALAJ_ASSIGN_OR_RETURN(auto records, store_.ListAll());
  for (auto& record : records) {
    std::string project = record.project;
    std::string name = record.spec.name;
    auto definition = MonitorDefinition::Build(std::move(record));
    if (!definition) {
      log::Error("monitor cannot be loaded",
                 {{"project", project}, {"monitor", name}, {"error", definition.error().message}});
      continue;
    }
    Install(std::move(*definition));
  }
  timer_ = std::thread([this, tick] {
    std::unique_lock lock(timer_mutex_);
    while (!timer_wake_.wait_for(lock, tick, [this] { return stopping_; })) {
      lock.unlock();
      CloseDueWindows(NowMs());
      lock.lock();
    }
  });
  return Ok();
}

void MonitorService::Stop() {
  {
    std::lock_guard lock(timer_mutex_);
    stopping_ = true;
  }
  timer_wake_.notify_all();
  if (timer_.joinable()) timer_.join();
}

void MonitorService::Install(std::unique_ptr<MonitorDefinition> definition) {
  auto live = std::make_shared<Live>();
  live->window = definition->NewWindow(NowMs());
  const MonitorRecord& record = definition->record;
  std::string traffic;
  bool by_endpoint = !record.spec.endpoint.empty();
  TrafficKey(traffic, record.project, by_endpoint,
             by_endpoint ? record.spec.endpoint : record.spec.model);
  std::string key = MonitorKey(record.project, record.spec.name);
  live->definition = std::move(definition);
  std::unique_lock lock(index_mutex_);
  by_traffic_[traffic].push_back(live);
  monitors_[key] = std::move(live);
}

void MonitorService::Uninstall(std::string_view project, std::string_view name) {
  std::unique_lock lock(index_mutex_);
  auto found = monitors_.find(MonitorKey(project, name));
  if (found == monitors_.end()) return;
  std::shared_ptr<Live> live = found->second;
  monitors_.erase(found);
  for (auto it = by_traffic_.begin(); it != by_traffic_.end();) {
    std::erase(it->second, live);
    it = it->second.empty() ? by_traffic_.erase(it) : std::next(it);
  }
}

std::shared_ptr<MonitorService::Live> MonitorService::Find(std::string_view project,
                                                           std::string_view name) const {
  std::shared_lock lock(index_mutex_);
  auto found = monitors_.find(MonitorKey(project, name));
  return found == monitors_.end() ? nullptr : found->second;
}

Result<MonitorRecord> MonitorService::Create(std::string_view project, const nlohmann::json& body,
                                             std::string_view created_by) {
  FALAJ_ASSIGN_OR_RETURN(MonitorSpec spec, ParseMonitorSpec(body));
  ResolvedReference resolved;
  if (spec.reference_dataset.empty()) {
    FALAJ_ASSIGN_OR_RETURN(
        resolved, references_.ModelReference(project, spec.endpoint, spec.model, spec.version));
  } else {
    FALAJ_ASSIGN_OR_RETURN(resolved,
                           references_.DatasetReference(project, spec.reference_dataset,
                                                        spec.reference_dataset_version, 0));
  }
  MonitorRecord record;
  record.project = std::string(project);
  record.spec = std::move(spec);
  record.reference = {{"source", resolved.source},
                      {"profile", data::ProfileToJson(resolved.profile)}};
  record.created_by = std::string(created_by);
  record.created_at_ms = record.updated_at_ms = NowMs();
  // Building checks the watched features against the reference before anything is stored.
  FALAJ_ASSIGN_OR_RETURN(auto definition, MonitorDefinition::Build(record));
  FALAJ_RETURN_IF_ERROR(store_.Insert(record));
  Install(std::move(definition));
  return record;
}

Result<MonitorRecord> MonitorService::Update(std::string_view project, std::string_view name,
                                             const nlohmann::json& body) {
  FALAJ_ASSIGN_OR_RETURN(MonitorRecord record, store_.Get(project, name));
  FALAJ_RETURN_IF_ERROR(ApplyMonitorUpdate(body, record.spec));
  FALAJ_ASSIGN_OR_RETURN(auto expected, json::OptionalInt(body, "revision"));
  record.updated_at_ms = NowMs();
  FALAJ_RETURN_IF_ERROR(MonitorDefinition::Build(record));
  FALAJ_ASSIGN_OR_RETURN(MonitorRecord updated, store_.Update(record, expected));
  FALAJ_ASSIGN_OR_RETURN(auto definition, MonitorDefinition::Build(updated));
  Uninstall(project, name);
  Install(std::move(definition));
  return updated;
}

Result<MonitorRecord> MonitorService::Get(std::string_view project, std::string_view name) {
  return store_.Get(project, name);
}

Result<std::vector<MonitorRecord>> MonitorService::List(std::string_view project) {
  return store_.List(project);
}

Status MonitorService::Delete(std::string_view project, std::string_view name) {
  FALAJ_RETURN_IF_ERROR(store_.Delete(project, name));
  Uninstall(project, name);
  values_.Erase(project, fmt::format("monitor.{}.", name));
  return Ok();
}

template <typename Visit>
void MonitorService::ForEachWatching(std::string_view project, std::string_view endpoint,
                                     std::string_view model, Visit&& visit) {
  // Reused per thread: building the lookup key allocates nothing once warm.
  thread_local std::string key;
  std::shared_lock lock(index_mutex_);
  if (by_traffic_.empty()) return;
  auto visit_key = [&] {
    auto found = by_traffic_.find(key);
    if (found == by_traffic_.end()) return;
    for (const auto& live : found->second) {
      std::lock_guard window_lock(live->mutex);
      visit(*live->window);
    }
  };
  if (!endpoint.empty()) {
    TrafficKey(key, project, true, endpoint);
    visit_key();
  }
  TrafficKey(key, project, false, model);
  visit_key();
}

void MonitorService::OnPrediction(const serving::PredictionRecord& record) {
  // A shadow call repeats inputs already counted for the answer the client got.
  if (record.shadow) return;
  ForEachWatching(record.project, record.endpoint, record.model,
                  [&](MonitorWindow& window) { window.AddPrediction(record); });
}

void MonitorService::OnOutcome(const OutcomeRecord& outcome) {
  if (outcome.metric != "label" || !outcome.joined || outcome.prediction.empty()) return;
  ForEachWatching(outcome.project, outcome.endpoint, outcome.model, [&](MonitorWindow& window) {
    window.AddLabel(outcome.prediction.front(), outcome.value);
  });
}

Result<ReportRecord> MonitorService::Finish(const MonitorDefinition& definition,
                                            const MonitorWindow& window, std::string kind,
                                            nlohmann::json extra) {
  int64_t now = NowMs();
  nlohmann::json body = ComposeReport(definition, window, now);
  ReportRecord report{RandomHex(12),
                      definition.record.project,
                      definition.record.spec.name,
                      std::move(kind),
                      window.start_ms(),
                      now,
                      now,
                      std::move(body)};
  report.body["id"] = report.id;
  report.body["kind"] = report.kind;
  if (!extra.is_null()) report.body["dataset"] = std::move(extra);
  FALAJ_RETURN_IF_ERROR(store_.InsertReport(report));
  if (window.rows() > 0 || window.labels().count() > 0)
    Publish(report.project, report.monitor, report.body, now);
  return report;
}

void MonitorService::Publish(const std::string& project, const std::string& monitor,
                             const nlohmann::json& report, int64_t at_ms) {
  for (const auto& [name, value] : ReportValues(monitor, report)) {
    values_.Set(project, name, {value, at_ms});
  }
  window_rows_.WithLabels({project, monitor}).Set(report["rows"].get<double>());
  if (report["features_compared"].get<size_t>() > 0) {
    drift_share_.WithLabels({project, monitor}).Set(report["drift_share"].get<double>());
  }
  for (const auto& [feature, drift] : report["features"].items()) {
    missing_rate_.WithLabels({project, monitor, feature})
        .Set(drift["current"]["missing_rate"].get<double>());
    if (!drift.contains("error")) {
      drift_score_.WithLabels({project, monitor, feature}).Set(drift["score"].get<double>());
    }
  }
  const auto& prediction = report["prediction"];
  if (prediction.is_object() && !prediction.contains("error")) {
    prediction_score_.WithLabels({project, monitor}).Set(prediction["score"].get<double>());
  }
  for (const auto& [metric, value] : report["labels"].items()) {
    label_metric_.WithLabels({project, monitor, metric}).Set(value.get<double>());
  }
}

std::optional<MonitorService::WindowStatus> MonitorService::OpenWindow(
    std::string_view project, std::string_view name) const {
  std::shared_ptr<Live> live = Find(project, name);
  if (live == nullptr) return std::nullopt;
  std::lock_guard lock(live->mutex);
  return WindowStatus{live->window->start_ms(), live->window->rows(),
                      static_cast<int64_t>(live->window->labels().count())};
}

Result<ReportRecord> MonitorService::CloseWindow(std::string_view project, std::string_view name) {
  std::shared_ptr<Live> live = Find(project, name);
  if (live == nullptr) {
    return MakeError(ErrorCode::kNotFound, "monitor '{}' not found in project '{}'", name, project);
  }
  std::unique_ptr<MonitorWindow> closed;
  {
    std::lock_guard lock(live->mutex);
    closed = std::exchange(live->window, live->definition->NewWindow(NowMs()));
  }
  return Finish(*live->definition, *closed, "window", nullptr);
}

void MonitorService::CloseDueWindows(int64_t now_ms) {
  std::vector<std::shared_ptr<Live>> all;
  {
    std::shared_lock lock(index_mutex_);
    for (const auto& [key, live] : monitors_) all.push_back(live);
  }
  for (const auto& live : all) {
    std::unique_ptr<MonitorWindow> closed;
    {
      std::lock_guard lock(live->mutex);
      if (live->window->start_ms() + live->definition->record.spec.window_ms > now_ms) continue;
      closed = std::exchange(live->window, live->definition->NewWindow(now_ms));
    }
    if (closed->rows() == 0 && closed->labels().count() == 0) continue;
    if (auto report = Finish(*live->definition, *closed, "window", nullptr); !report) {
      log::Error("monitor window report failed", {{"project", live->definition->record.project},
                                                  {"monitor", live->definition->record.spec.name},
                                                  {"error", report.error().message}});
    }
  }
}

Result<ReportRecord> MonitorService::BatchReport(std::string_view project, std::string_view name,
                                                 std::string_view dataset, int64_t version) {
  std::shared_ptr<Live> live = Find(project, name);
  if (live == nullptr) {
    return MakeError(ErrorCode::kNotFound, "monitor '{}' not found in project '{}'", name, project);
  }
  const MonitorDefinition& definition = *live->definition;
  std::vector<std::string> names;
  for (const FeatureReference* feature : definition.watched) names.push_back(feature->name);
  if (definition.prediction != nullptr) names.push_back(definition.prediction->name);
  FALAJ_ASSIGN_OR_RETURN(DatasetColumns data,
                         references_.ReadColumns(project, dataset, version, names));
  auto window = definition.NewWindow(NowMs());
  for (size_t f = 0; f < definition.watched.size(); ++f) {
    NumericWindowProfile& profile = window->mutable_feature_profile(f);
    auto column = data.columns.find(definition.watched[f]->name);
    for (int64_t r = 0; r < data.rows; ++r) {
      if (column == data.columns.end()) {
        profile.UpdateMissing();
      } else {
        profile.Update(column->second[static_cast<size_t>(r)]);
      }
    }
  }
  if (NumericWindowProfile* prediction = window->mutable_prediction_profile()) {
    if (auto column = data.columns.find(definition.prediction->name);
        column != data.columns.end()) {
      for (double value : column->second) prediction->Update(value);
    }
  }
  window->AddRows(data.rows);
  return Finish(definition, *window, "batch", data.source);
}

Result<std::vector<ReportRecord>> MonitorService::ListReports(std::string_view project,
                                                              std::string_view name, size_t limit) {
  FALAJ_RETURN_IF_ERROR(store_.Get(project, name));
  return store_.ListReports(project, name, std::min(limit, kMaxReportsListed));
}

Result<ReportRecord> MonitorService::GetReport(std::string_view project, std::string_view name,
                                               std::string_view id) {
  return store_.GetReport(project, name, id);
}

}  // namespace falaj::monitoring
