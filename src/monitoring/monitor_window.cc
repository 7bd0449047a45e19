#include "monitoring/monitor_window.h"

#include <cmath>

namespace falaj::monitoring {

// whylogs' default k. The sketch is most of a window's per-value cost (a sort of k values every k
// updates per level); the current quantiles are shown beside the scores, not used by them, so
// the looser bound (about log2(n / k) / k) buys a cheaper listener.
constexpr int32_t kWindowSketchK = 256;

MonitorWindow::MonitorWindow(std::vector<const FeatureReference*> features,
                             const FeatureReference* prediction, int64_t start_ms)
    : features_(std::move(features)), prediction_(prediction), start_ms_(start_ms) {
  profiles_.reserve(features_.size());
  for (const FeatureReference* feature : features_)
    profiles_.emplace_back(feature->edges, kWindowSketchK);
  if (prediction_ != nullptr) prediction_profile_.emplace(prediction_->edges, kWindowSketchK);
}

void MonitorWindow::MapColumns(const std::vector<std::string>& names) {
  mapped_names_ = names;
  column_of_.assign(features_.size(), -1);
  for (size_t f = 0; f < features_.size(); ++f) {
    for (size_t c = 0; c < names.size(); ++c) {
      if (names[c] == features_[f]->name) {
        column_of_[f] = static_cast<int64_t>(c);
        break;
      }
    }
  }
}

void MonitorWindow::AddPrediction(const serving::PredictionRecord& record) {
  if (record.rows == 0 || !record.error.empty()) return;
  if (record.feature_names != mapped_names_) MapColumns(record.feature_names);
  const size_t width = record.feature_names.size();
  if (record.inputs.size() < record.rows * width) return;  // malformed record: nothing to trust
  for (size_t f = 0; f < features_.size(); ++f) {
    NumericWindowProfile& profile = profiles_[f];
    int64_t column = column_of_[f];
    for (size_t r = 0; r < record.rows; ++r) {
      if (column < 0) {
        profile.UpdateMissing();
      } else {
        profile.Update(record.inputs[r * width + static_cast<size_t>(column)]);
      }
    }
  }
  if (prediction_profile_ && record.output_width > 0 &&
      record.outputs.size() >= record.rows * record.output_width) {
    for (size_t r = 0; r < record.rows; ++r) {
      prediction_profile_->Update(record.outputs[r * record.output_width]);
    }
  }
  rows_ += static_cast<int64_t>(record.rows);
}

void MonitorWindow::AddRow(std::span<const double> values) {
  for (size_t f = 0; f < profiles_.size() && f < values.size(); ++f) profiles_[f].Update(values[f]);
  ++rows_;
}

}  // namespace falaj::monitoring
