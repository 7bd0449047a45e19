// One monitor's open window: a NumericWindowProfile per watched feature on its reference bins,
// one for the model's first output (prediction drift), and the label pairs joined so far.
// AddPrediction maps the record's feature names to the watched features once per distinct name
// list (cached), then costs one profile update per watched value: no allocation per row.
//
// Not thread-safe: the owning monitor's mutex guards a window.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "monitoring/label_metrics.h"
#include "monitoring/report_builder.h"
#include "monitoring/streaming_profile.h"
#include "serving/prediction_record.h"

namespace falaj::monitoring {

class MonitorWindow {
 public:
  // `features` and `prediction` (may be null: the reference has no prediction column) must
  // outlive the window.
  MonitorWindow(std::vector<const FeatureReference*> features, const FeatureReference* prediction,
                int64_t start_ms);

  void AddPrediction(const serving::PredictionRecord& record);
  // Adds one value per watched feature (NaN: missing), in the order of the constructor's list.
  void AddRow(std::span<const double> values);
  void AddLabel(double prediction, double label) { labels_.Add(prediction, label); }

  int64_t start_ms() const { return start_ms_; }
  int64_t rows() const { return rows_; }
  const std::vector<const FeatureReference*>& features() const { return features_; }
  const NumericWindowProfile& feature_profile(size_t i) const { return profiles_[i]; }
  NumericWindowProfile& mutable_feature_profile(size_t i) { return profiles_[i]; }
  const FeatureReference* prediction_reference() const { return prediction_; }
  const NumericWindowProfile* prediction_profile() const {
    return prediction_profile_ ? &*prediction_profile_ : nullptr;
  }
  NumericWindowProfile* mutable_prediction_profile() {
    return prediction_profile_ ? &*prediction_profile_ : nullptr;
  }
  const LabelAccumulator& labels() const { return labels_; }
  void AddRows(int64_t rows) { rows_ += rows; }

 private:
  void MapColumns(const std::vector<std::string>& names);

  std::vector<const FeatureReference*> features_;
  const FeatureReference* prediction_;
  std::vector<NumericWindowProfile> profiles_;
  std::optional<NumericWindowProfile> prediction_profile_;
  LabelAccumulator labels_;
  int64_t start_ms_;
  int64_t rows_ = 0;
  // The last record's feature names and, per watched feature, its column there (-1: absent).
  std::vector<std::string> mapped_names_;
  std::vector<int64_t> column_of_;
};

}  // namespace falaj::monitoring
