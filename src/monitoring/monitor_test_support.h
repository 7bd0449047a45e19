// Test and benchmark support for MonitorService: a settable clock and a ReferenceSource whose
// model reference has `features` numeric columns f0 … (or the names given) over [0, 8) and a
// prediction over [0, 1], 8 equal bins of 100 rows each. Not thread-safe to configure; the
// clock may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "monitoring/monitor_reference.h"

namespace falaj::monitoring {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms.load()));
  }
  std::atomic<int64_t> now_ms{1'000'000};
};

class FakeReferences final : public ReferenceSource {
 public:
  explicit FakeReferences(std::vector<std::string> features) : features_(std::move(features)) {}

  Result<ResolvedReference> ModelReference(std::string_view, std::string_view, std::string_view,
                                           int64_t) override {
    data::TableProfile profile;
    profile.row_count = 800;
    std::vector<std::string> columns = features_;
    columns.push_back("prediction");
    for (const auto& name : columns) {
      bool prediction = name == "prediction";
      data::ColumnProfile column;
      column.name = name;
      column.type = "double";
      column.kind = data::ProfileKind::kNumeric;
      column.count = 800;
      data::NumericStats stats;
      stats.max = prediction ? 1 : 8;
      stats.stddev = prediction ? 0.29 : 2.3;
      stats.histogram = {stats.min, stats.max, std::vector<int64_t>(8, 100)};
      column.numeric = stats;
      profile.columns.push_back(column);
    }
    return ResolvedReference{{{"kind", "model_version"}, {"model", "m"}, {"version", 1}}, profile};
  }
  Result<ResolvedReference> DatasetReference(std::string_view, std::string_view, int64_t,
                                             int) override {
    return MakeError(ErrorCode::kUnimplemented, "no datasets in the fake");
  }
  Result<DatasetColumns> ReadColumns(std::string_view, std::string_view, int64_t,
                                     const std::vector<std::string>&) override {
    return MakeError(ErrorCode::kUnimplemented, "no datasets in the fake");
  }

 private:
  std::vector<std::string> features_;
};

}  // namespace falaj::monitoring
