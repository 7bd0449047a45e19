#include "serving/arm_stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace falaj::serving {
namespace {

constexpr double kFirstBoundUs = 10;
constexpr double kGrowth = 1.25;

double UpperBoundUs(size_t bucket) { return kFirstBoundUs * std::pow(kGrowth, bucket); }

// The labels of every per-arm family, then `more` (the shadow calls' family adds `result`).
std::vector<std::string> ArmLabels(std::vector<std::string> more = {}) {
  std::vector<std::string> labels = {"project", "endpoint", "arm"};
  labels.insert(labels.end(), more.begin(), more.end());
  return labels;
}

}  // namespace

ArmMetrics::ArmMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("falaj_endpoint_arm_requests_total",
                                   "Requests an endpoint's arm answered or failed (shadows apart).",
                                   ArmLabels())),
      errors(registry.AddCounter("falaj_endpoint_arm_errors_total",
                                 "Requests an endpoint's arm failed (shadows apart).",
                                 ArmLabels())),
      shadow_requests(registry.AddCounter(
          "falaj_endpoint_arm_shadow_requests_total",
          "Mirrored calls to a shadow arm by result: ok, failed, or dropped (shadow pool full).",
          ArmLabels({"result"}))),
      request_seconds(registry.AddHistogram(
          "falaj_endpoint_arm_request_duration_seconds",
          "Time from receipt to answer (or failure) of requests routed to an endpoint's arm.",
          ArmLabels(), metrics::DefaultLatencyBuckets())),
      weight(registry.AddGauge("falaj_endpoint_arm_weight",
                               "An arm's current traffic weight (relative to its endpoint's other "
                               "arms; a ramping canary's steps included).",
                               ArmLabels())),
      canary_step(registry.AddGauge(
          "falaj_endpoint_canary_step",
          "The step (1-based) of the endpoint's ramping canary; 0 when none ramps.",
          {"project", "endpoint"})) {}

ArmCounters::ArmCounters(ArmMetrics& metrics, std::string_view project, std::string_view endpoint,
                         std::string_view arm)
    : requests_total_(metrics.requests.WithLabels({project, endpoint, arm})),
      errors_total_(metrics.errors.WithLabels({project, endpoint, arm})),
      shadow_ok_total_(metrics.shadow_requests.WithLabels({project, endpoint, arm, "ok"})),
      shadow_failed_total_(metrics.shadow_requests.WithLabels({project, endpoint, arm, "failed"})),
      shadow_dropped_total_(
          metrics.shadow_requests.WithLabels({project, endpoint, arm, "dropped"})),
      request_seconds_(metrics.request_seconds.WithLabels({project, endpoint, arm})),
      weight_(metrics.weight.WithLabels({project, endpoint, arm})) {}

void LatencyHistogram::Record(int64_t micros) noexcept {
  size_t bucket = 0;
  if (micros > kFirstBoundUs) {
    const double index = std::ceil(std::log(micros / kFirstBoundUs) / std::log(kGrowth));
    bucket = std::min(kBuckets - 1, static_cast<size_t>(index));
  }
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
}

int64_t LatencyHistogram::count() const noexcept {
  int64_t total = 0;
  for (const auto& bucket : buckets_) total += bucket.load(std::memory_order_relaxed);
  return total;
}

double LatencyHistogram::QuantileMs(double q) const noexcept {
  std::array<int64_t, kBuckets> counts;
  int64_t total = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
    total += counts[i];
  }
  if (total == 0) return 0;
  const auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(total)));
  int64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen >= rank) return UpperBoundUs(i) / 1000;
  }
  return UpperBoundUs(kBuckets - 1) / 1000;
}

void LatencyHistogram::Reset() noexcept {
  for (auto& bucket : buckets_) bucket.store(0, std::memory_order_relaxed);
}

void ArmCounters::Record(bool ok, int64_t latency_us) noexcept {
  requests_.fetch_add(1, std::memory_order_relaxed);
  step_requests_.fetch_add(1, std::memory_order_relaxed);
  if (!ok) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    step_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  step_latency_.Record(latency_us);
  requests_total_.Increment();
  if (!ok) errors_total_.Increment();
  request_seconds_.Observe(static_cast<double>(latency_us) / 1e6);
}

void ArmCounters::RecordShadow(bool ok) noexcept {
  shadow_requests_.fetch_add(1, std::memory_order_relaxed);
  if (!ok) shadow_errors_.fetch_add(1, std::memory_order_relaxed);
  (ok ? shadow_ok_total_ : shadow_failed_total_).Increment();
}

void ArmCounters::RecordShadowDropped() noexcept {
  shadow_dropped_.fetch_add(1, std::memory_order_relaxed);
  shadow_dropped_total_.Increment();
}

void ArmCounters::SetWeight(int64_t weight) noexcept { weight_.Set(static_cast<double>(weight)); }

void ArmCounters::ResetStep() noexcept {
  step_requests_.store(0, std::memory_order_relaxed);
  step_errors_.store(0, std::memory_order_relaxed);
  step_latency_.Reset();
}

ArmSnapshot ArmCounters::Snapshot(std::string arm) const {
  ArmSnapshot snapshot;
  snapshot.arm = std::move(arm);
  snapshot.requests = requests_.load(std::memory_order_relaxed);
  snapshot.errors = errors_.load(std::memory_order_relaxed);
  snapshot.step_requests = step_requests_.load(std::memory_order_relaxed);
  snapshot.step_errors = step_errors_.load(std::memory_order_relaxed);
  snapshot.step_p99_ms = step_latency_.QuantileMs(0.99);
  snapshot.shadow_requests = shadow_requests_.load(std::memory_order_relaxed);
  snapshot.shadow_errors = shadow_errors_.load(std::memory_order_relaxed);
  snapshot.shadow_dropped = shadow_dropped_.load(std::memory_order_relaxed);
  return snapshot;
}

std::string ArmStatsRegistry::Key(std::string_view project, std::string_view endpoint,
                                  std::string_view arm) {
  return fmt::format("{}\x1f{}\x1f{}", project, endpoint, arm);
}

std::shared_ptr<ArmCounters> ArmStatsRegistry::For(std::string_view project,
                                                   std::string_view endpoint,
                                                   std::string_view arm) {
  std::string key = Key(project, endpoint, arm);
  std::lock_guard lock(mutex_);
  auto& counters = arms_[std::move(key)];
  if (!counters) counters = std::make_shared<ArmCounters>(metrics_, project, endpoint, arm);
  return counters;
}

std::vector<ArmSnapshot> ArmStatsRegistry::Snapshot(std::string_view project,
                                                    std::string_view endpoint,
                                                    const std::vector<std::string>& arms) {
  std::vector<ArmSnapshot> snapshots;
  for (const auto& arm : arms) snapshots.push_back(For(project, endpoint, arm)->Snapshot(arm));
  return snapshots;
}

template <typename Visit>
void ArmStatsRegistry::ForEachArm(std::string_view project, std::string_view endpoint,
                                  Visit visit) {
  const std::string prefix = fmt::format("{}\x1f{}\x1f", project, endpoint);
  std::lock_guard lock(mutex_);
  for (auto it = arms_.lower_bound(prefix); it != arms_.end() && it->first.starts_with(prefix);
       ++it) {
    visit(std::string_view(it->first).substr(prefix.size()), *it->second);
  }
}

void ArmStatsRegistry::ResetStep(std::string_view project, std::string_view endpoint) {
  ForEachArm(project, endpoint, [](std::string_view, ArmCounters& arm) { arm.ResetStep(); });
}

void ArmStatsRegistry::Publish(const Endpoint& endpoint) {
  const std::vector<std::string> arms = ArmNames(endpoint);
  const std::vector<int64_t> weights = EffectiveWeights(endpoint);
  // Creates the series of arms not counted yet, so that every arm has a weight.
  for (const auto& arm : arms) For(endpoint.project, endpoint.name, arm);
  ForEachArm(endpoint.project, endpoint.name, [&](std::string_view arm, ArmCounters& counters) {
    auto found = std::find(arms.begin(), arms.end(), arm);
    counters.SetWeight(found == arms.end() ? 0 : weights[found - arms.begin()]);
  });
  const auto& state = endpoint.traffic.canary_state;
  const bool ramping = endpoint.traffic.canary && state && state->ramping();
  metrics_.canary_step.WithLabels({endpoint.project, endpoint.name})
      .Set(ramping ? static_cast<double>(state->step + 1) : 0);
}

}  // namespace falaj::serving
