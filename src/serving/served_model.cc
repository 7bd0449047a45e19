// ServedModel and the serving metric families: one loaded model version at work.
#include <fmt/format.h>

#include <chrono>

#include "serving/dynamic_batcher.h"
#include "serving/model_manager.h"

namespace falaj::serving {
namespace {

std::vector<double> BatchRowBuckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ServingMetrics::ServingMetrics(metrics::Registry& registry)
    : requests(registry.AddCounter("falaj_inference_requests_total",
                                   "Inference requests by endpoint, model, version and outcome.",
                                   {"endpoint", "model", "version", "outcome"})),
      rows(registry.AddCounter("falaj_inference_rows_total", "Rows predicted.",
                               {"endpoint", "model", "version"})),
      compute_seconds(registry.AddHistogram(
          "falaj_inference_compute_seconds",
          "Time in the model runtime per runtime call (one batch when batching).",
          {"endpoint", "model", "version"}, metrics::DefaultLatencyBuckets())),
      queue_seconds(registry.AddHistogram(
          "falaj_inference_queue_seconds", "Time a request waited in the dynamic batcher's queue.",
          {"endpoint", "model", "version"}, metrics::DefaultLatencyBuckets())),
      request_seconds(registry.AddHistogram(
          "falaj_inference_request_seconds",
          "End-to-end time of an inference request, from receipt to its answer being ready.",
          {"endpoint", "model", "version"}, metrics::DefaultLatencyBuckets())),
      batch_rows(registry.AddHistogram("falaj_inference_batch_rows",
                                       "Rows per runtime call (the dynamic batch size).",
                                       {"endpoint", "model", "version"}, BatchRowBuckets())) {}

ServedModel::ServedModel(LoadSpec spec, std::shared_ptr<const LoadedModel> runtime,
                         std::string input_name, std::string output_name,
                         std::vector<std::string> feature_names, ServingMetrics& metrics)
    : spec_(std::move(spec)),
      runtime_(std::move(runtime)),
      input_name_(std::move(input_name)),
      output_name_(std::move(output_name)),
      feature_names_(std::move(feature_names)),
      ok_(metrics.requests.WithLabels({spec_.endpoint, spec_.project + "." + spec_.model,
                                       std::to_string(spec_.version), "ok"})),
      failed_(metrics.requests.WithLabels({spec_.endpoint, spec_.project + "." + spec_.model,
                                           std::to_string(spec_.version), "error"})),
      rows_(metrics.rows.WithLabels(
          {spec_.endpoint, spec_.project + "." + spec_.model, std::to_string(spec_.version)})),
      compute_seconds_(metrics.compute_seconds.WithLabels(
          {spec_.endpoint, spec_.project + "." + spec_.model, std::to_string(spec_.version)})),
      queue_seconds_(metrics.queue_seconds.WithLabels(
          {spec_.endpoint, spec_.project + "." + spec_.model, std::to_string(spec_.version)})),
      batch_rows_(metrics.batch_rows.WithLabels(
          {spec_.endpoint, spec_.project + "." + spec_.model, std::to_string(spec_.version)})),
      request_seconds_(metrics.request_seconds.WithLabels(
          {spec_.endpoint, spec_.project + "." + spec_.model, std::to_string(spec_.version)})) {
  const size_t width = runtime_->num_features();
  if (feature_names_.size() != width) {
    feature_names_.clear();
    for (size_t i = 0; i < width; ++i) feature_names_.push_back(fmt::format("f{}", i));
  }
  if (spec_.batching.max_batch_size > 1) {
    BatcherOptions options;
    options.max_batch_size = static_cast<size_t>(spec_.batching.max_batch_size);
    options.max_queue_delay = std::chrono::microseconds(spec_.batching.max_queue_delay_us);
    options.max_queue_rows = static_cast<size_t>(spec_.batching.max_queue_rows);
    batcher_ = std::make_unique<DynamicBatcher>(
        options, runtime_->num_features(), runtime_->num_outputs(),
        [model = runtime_](std::span<const float> features, size_t rows, std::span<float> out) {
          return model->Predict(features, rows, out);
        });
  }
  Touch();
}

ServedModel::~ServedModel() = default;

Result<std::vector<float>> ServedModel::Predict(
    std::span<const float> features, size_t rows,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  Touch();
  Result<std::vector<float>> outputs;
  if (batcher_) {
    BatchTimings timings;
    outputs = batcher_->Submit(features, rows, deadline, &timings);
    queue_seconds_.Observe(std::chrono::duration<double>(timings.queued).count());
    if (timings.batch_rows > 0) {
      // Each request of a batch reports the batch's compute; record it once per batch, by the
      // request that the batcher marks as its first.
      if (timings.first_in_batch) {
        compute_seconds_.Observe(std::chrono::duration<double>(timings.compute).count());
        batch_rows_.Observe(static_cast<double>(timings.batch_rows));
      }
    }
  } else {
    auto started = std::chrono::steady_clock::now();
    std::vector<float> values(rows * runtime_->num_outputs());
    Status predicted = runtime_->Predict(features, rows, values);
    compute_seconds_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    batch_rows_.Observe(static_cast<double>(rows));
    if (predicted) {
      outputs = std::move(values);
    } else {
      outputs = std::unexpected(predicted.error());
    }
  }
  (outputs ? ok_ : failed_).Increment();
  if (outputs) rows_.Increment(static_cast<double>(rows));
  return outputs;
}

void ServedModel::RecordRequestSeconds(double seconds) { request_seconds_.Observe(seconds); }

void ServedModel::Touch() const { last_used_ns_.store(NowNanos(), std::memory_order_relaxed); }

std::chrono::steady_clock::time_point ServedModel::last_used() const {
  return std::chrono::steady_clock::time_point(
      std::chrono::nanoseconds(last_used_ns_.load(std::memory_order_relaxed)));
}

}  // namespace falaj::serving
