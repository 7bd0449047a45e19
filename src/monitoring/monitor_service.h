// Monitors: CRUD over MonitorStore, the live windows fed by the prediction log, and reports.
//
// A monitor compares windows of live traffic (or a dataset version, for a batch report) with
// its reference (report_builder.h). OnPrediction/OnOutcome update the open window of every
// monitor watching the record's endpoint (or model); a window closes when its length has passed
// (the timer thread started by Start, or CloseDueWindows) or on demand (CloseWindow). A closed
// window with rows becomes a stored report whose values are published to MonitoredValues and
// Prometheus gauges. A batch report is the same report over a dataset version's rows, stored and
// published alike (Evidently's usual use, and testable without traffic).
//
// Thread-safety: every method may be called concurrently. The listener methods take a shared
// lock on the monitor index and the one monitor's window mutex, never storage: they stay cheap
// on the prediction log's writer thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "monitoring/monitor_reference.h"
#include "monitoring/monitor_report.h"
#include "monitoring/monitor_store.h"
#include "monitoring/monitored_values.h"
#include "monitoring/prediction_events.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {

class MonitorService final : public PredictionListener, public OutcomeListener {
 public:
  MonitorService(storage::MetadataStore& store, ReferenceSource& references,
                 MonitoredValues& values, metrics::Registry& metrics, const Clock& clock);
  ~MonitorService() override;

  static const storage::MigrationSet& Migrations() { return MonitorStore::Migrations(); }
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project) {
    return MonitorStore::CountInProject(tx, project);
  }

  // Loads the stored monitors (each gets a fresh window), then closes due windows every `tick`.
  Status Start(std::chrono::milliseconds tick = std::chrono::seconds(1));
  void Stop();

  // `body` as MonitorSpec (monitor_spec.h). Resolves and stores the reference now.
  Result<MonitorRecord> Create(std::string_view project, const nlohmann::json& body,
                               std::string_view created_by);
  // A new spec starts a new window. FAILED_PRECONDITION when body's "revision" is stale.
  Result<MonitorRecord> Update(std::string_view project, std::string_view name,
                               const nlohmann::json& body);
  Result<MonitorRecord> Get(std::string_view project, std::string_view name);
  Result<std::vector<MonitorRecord>> List(std::string_view project);
  Status Delete(std::string_view project, std::string_view name);

  struct WindowStatus {
    int64_t start_ms = 0;
    int64_t rows = 0;
    int64_t labels = 0;
  };
  // The open window of a loaded monitor; nullopt for an unknown one.
  std::optional<WindowStatus> OpenWindow(std::string_view project, std::string_view name) const;

  // Closes the monitor's open window now and returns its report (stored even when empty).
  Result<ReportRecord> CloseWindow(std::string_view project, std::string_view name);
  // Closes every window whose length has passed at `now_ms`; empty windows are rolled over
  // without a report.
  void CloseDueWindows(int64_t now_ms);
  // The report of a dataset version (0: latest) against the monitor's reference.
  Result<ReportRecord> BatchReport(std::string_view project, std::string_view name,
                                   std::string_view dataset, int64_t version);
  Result<std::vector<ReportRecord>> ListReports(std::string_view project, std::string_view name,
                                                size_t limit);
  Result<ReportRecord> GetReport(std::string_view project, std::string_view name,
                                 std::string_view id);

  void OnPrediction(const serving::PredictionRecord& record) override;
  void OnOutcome(const OutcomeRecord& outcome) override;

 private:
  struct Live {
    std::unique_ptr<MonitorDefinition> definition;
    std::mutex mutex;
    std::unique_ptr<MonitorWindow> window;  // guarded by mutex
  };

  static std::string MonitorKey(std::string_view project, std::string_view name);
  // The index key of the traffic a monitor watches: its endpoint, else its model.
  static void TrafficKey(std::string& out, std::string_view project, bool endpoint,
                         std::string_view name);
  void Install(std::unique_ptr<MonitorDefinition> definition);
  void Uninstall(std::string_view project, std::string_view name);
  std::shared_ptr<Live> Find(std::string_view project, std::string_view name) const;
  template <typename Visit>
  void ForEachWatching(std::string_view project, std::string_view endpoint, std::string_view model,
                       Visit&& visit);
  Result<ReportRecord> Finish(const MonitorDefinition& definition, const MonitorWindow& window,
                              std::string kind, nlohmann::json extra);
  void Publish(const std::string& project, const std::string& monitor, const nlohmann::json& report,
               int64_t at_ms);
  int64_t NowMs() const;

  MonitorStore store_;
  ReferenceSource& references_;
  MonitoredValues& values_;
  const Clock& clock_;
  metrics::Family<metrics::Gauge>& drift_score_;
  metrics::Family<metrics::Gauge>& drift_share_;
  metrics::Family<metrics::Gauge>& missing_rate_;
  metrics::Family<metrics::Gauge>& prediction_score_;
  metrics::Family<metrics::Gauge>& label_metric_;
  metrics::Family<metrics::Gauge>& window_rows_;

  mutable std::shared_mutex index_mutex_;
  // "<project>\n<name>" -> monitor; guarded by index_mutex_.
  std::unordered_map<std::string, std::shared_ptr<Live>> monitors_;
  // TrafficKey -> monitors watching that traffic; guarded by index_mutex_.
  std::unordered_map<std::string, std::vector<std::shared_ptr<Live>>> by_traffic_;

  std::mutex timer_mutex_;
  std::condition_variable timer_wake_;
  bool stopping_ = false;  // guarded by timer_mutex_
  std::thread timer_;
};

}  // namespace falaj::monitoring
