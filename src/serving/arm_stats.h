// Per-arm serving counters of endpoints, measured in this process: requests, errors, shadow calls
// (run, failed, dropped because the shadow pool was full) and a latency histogram. The canary
// controller judges a step by the counters of the current step (ResetStep starts a new one); the
// traffic API shows them. Counters are relaxed atomics, so the hot path never takes a lock: a
// route looks its arms' counters up once (ArmStatsRegistry::For) and keeps the pointers.
//
// The same counts reach Prometheus (falaj_endpoint_arm_*): an arm's counters resolve their metric
// series once, when created, so recording one request is a few atomic increments either way.
// Publish sets the arms' weight gauges and the canary step gauge from an endpoint as stored.
//
// Thread-safety: everything may be called concurrently. A reset racing with recording may keep or
// lose the racing request; the numbers are for judging rates, not for billing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "serving/endpoint_store.h"

namespace falaj::serving {

// Log-spaced latency buckets from 10 µs to several minutes, each 25 % wider than the previous.
class LatencyHistogram {
 public:
  static constexpr size_t kBuckets = 80;
  void Record(int64_t micros) noexcept;
  // The upper bound (ms) of the bucket holding the q-quantile; 0 when empty.
  double QuantileMs(double q) const noexcept;
  int64_t count() const noexcept;
  void Reset() noexcept;

 private:
  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
};

struct ArmSnapshot {
  std::string arm;
  int64_t requests = 0;  // answered or failed, since this process started
  int64_t errors = 0;
  int64_t step_requests = 0;  // since the current canary step started (or the process did)
  int64_t step_errors = 0;
  double step_p99_ms = 0;
  int64_t shadow_requests = 0;  // mirrored calls run on this arm
  int64_t shadow_errors = 0;
  int64_t shadow_dropped = 0;  // mirrored calls dropped because the shadow pool was full
};

// The Prometheus families of the per-arm counts, registered once on a metrics registry.
struct ArmMetrics {
  explicit ArmMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Counter>& errors;
  metrics::Family<metrics::Counter>& shadow_requests;  // + result: ok, failed or dropped
  metrics::Family<metrics::Histogram>& request_seconds;
  metrics::Family<metrics::Gauge>& weight;
  metrics::Family<metrics::Gauge>& canary_step;  // {project, endpoint}
};

class ArmCounters {
 public:
  // Resolves the arm's series in `metrics` (which must outlive the counters).
  ArmCounters(ArmMetrics& metrics, std::string_view project, std::string_view endpoint,
              std::string_view arm);
  void Record(bool ok, int64_t latency_us) noexcept;
  void RecordShadow(bool ok) noexcept;
  void RecordShadowDropped() noexcept;
  void ResetStep() noexcept;
  ArmSnapshot Snapshot(std::string arm) const;
  // The arm's current traffic weight, for its gauge.
  void SetWeight(int64_t weight) noexcept;

 private:
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> step_requests_{0};
  std::atomic<int64_t> step_errors_{0};
  std::atomic<int64_t> shadow_requests_{0};
  std::atomic<int64_t> shadow_errors_{0};
  std::atomic<int64_t> shadow_dropped_{0};
  LatencyHistogram step_latency_;
  // The arm's Prometheus series, resolved once.
  metrics::Counter& requests_total_;
  metrics::Counter& errors_total_;
  metrics::Counter& shadow_ok_total_;
  metrics::Counter& shadow_failed_total_;
  metrics::Counter& shadow_dropped_total_;
  metrics::Histogram& request_seconds_;
  metrics::Gauge& weight_;
};

class ArmStatsRegistry {
 public:
  // Registers the falaj_endpoint_arm_* and falaj_endpoint_canary_step families on `metrics`
  // (which must outlive this; registering them twice on one registry aborts).
  explicit ArmStatsRegistry(metrics::Registry& metrics) : metrics_(metrics) {}

  // The counters of an arm, created on first use; the same object for as long as the registry
  // lives, so callers may keep the pointer.
  std::shared_ptr<ArmCounters> For(std::string_view project, std::string_view endpoint,
                                   std::string_view arm);
  // Snapshots of the given arms of an endpoint (zeros for arms never used here).
  std::vector<ArmSnapshot> Snapshot(std::string_view project, std::string_view endpoint,
                                    const std::vector<std::string>& arms);
  // Starts a new measuring step for every arm of the endpoint.
  void ResetStep(std::string_view project, std::string_view endpoint);
  // Sets the weight gauges of the endpoint's arms to their effective weights, and its canary
  // step gauge to the ramping step (1-based; 0 when no canary ramps). Arms this process counted
  // that the endpoint no longer has drop to weight 0 (their series stay, as every series does).
  void Publish(const Endpoint& endpoint);

 private:
  static std::string Key(std::string_view project, std::string_view endpoint, std::string_view arm);
  // Calls visit(arm name, counters) for every arm of the endpoint counted here, under mutex_.
  template <typename Visit>
  void ForEachArm(std::string_view project, std::string_view endpoint, Visit visit);

  ArmMetrics metrics_;
  std::mutex mutex_;
  // "<project>\x1f<endpoint>\x1f<arm>" → counters; guarded by mutex_.
  std::map<std::string, std::shared_ptr<ArmCounters>, std::less<>> arms_;
};

}  // namespace falaj::serving
