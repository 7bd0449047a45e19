// The `xgboost` runtime: XGBoost's own library (libxgboost 1.7, C API) predicting in place from
// the request's float rows — no DMatrix per request, NaN as missing, one thread per call (the
// server parallelises across requests).
//
// Before the library sees a file, ReadXGBoostModel checks it (the library trusts child and
// feature indices and would read out of bounds on a hostile file). What 1.7 reads from newer
// models: everything our reader accepts except vector-leaf trees, which 1.7 refuses, and
// base_score — XGBoost 3.1 onwards stores it as a vector ("[5E-1]"), which 1.7 silently ignores
// and replaces with 0.5. A single-valued vector is therefore set on the booster explicitly and
// read back; one value per class or target cannot be expressed in 1.7 and is refused
// (UNIMPLEMENTED) rather than served wrong.
//
// Thread-safety: XGBoost 1.7 does not document a Booster as safe for concurrent prediction, and
// the result buffer of XGBoosterPredictFromDense belongs to the booster until its next call. A
// model therefore keeps a small pool of boosters, each used under its own mutex; a call takes
// whichever is free, or waits for one. Predict is thread-safe; everything else is immutable.
#include <xgboost/c_api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "serving/model_runtime.h"
#include "serving/xgboost_model_reader.h"

namespace falaj::serving {
namespace {

// Boosters per model: concurrent predictions up to this many, at the cost of as many copies.
constexpr size_t kMaxBoosters = 4;

constexpr char kPredictConfig[] =
    R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
    R"("strict_shape": false, "missing": NaN, "cache_id": 0})";

std::string LibraryVersion() {
  int major = 0;
  int minor = 0;
  int patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

// The library's last error on this thread, without its stack trace.
std::string LastError() {
  std::string_view message = XGBGetLastError();
  return std::string(message.substr(0, std::min<size_t>(message.find('\n'), 300)));
}

struct BoosterDeleter {
  void operator()(void* handle) const { XGBoosterFree(handle); }
};
using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;

struct PooledBooster {
  std::mutex mutex;
  BoosterPtr handle;  // used only under `mutex`
};

// One row of missing values through `handle`: the number of outputs per row.
Result<size_t> OutputsPerRow(BoosterHandle handle, size_t width) {
  const std::vector<float> row(width, std::numeric_limits<float>::quiet_NaN());
  const std::string array =
      fmt::format(R"({{"data": [{}, true], "shape": [1, {}], "typestr": "<f4", "version": 3}})",
                  reinterpret_cast<uintptr_t>(row.data()), width);
  const bst_ulong* shape = nullptr;
  bst_ulong dimensions = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(handle, array.c_str(), kPredictConfig, nullptr, &shape, &dimensions,
                                &result) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "libxgboost cannot predict with the model: {}",
                     LastError());
  }
  size_t values = 1;
  for (bst_ulong d = 0; d < dimensions; ++d) values *= shape[d];
  return values;
}

// The base_score the booster will use, read back from its configuration.
Result<float> ConfiguredBaseScore(BoosterHandle handle) {
  bst_ulong length = 0;
  const char* config = nullptr;
  if (XGBoosterSaveJsonConfig(handle, &length, &config) != 0) {
    return MakeError(ErrorCode::kInternal, "libxgboost: {}", LastError());
  }
  const auto parsed = nlohmann::json::parse(std::string_view(config, length), nullptr, false);
  const auto text =
      parsed.is_discarded()
          ? std::string()
          : parsed.value(nlohmann::json::json_pointer("/learner/learner_model_param/base_score"),
                         std::string());
  char* end = nullptr;
  const float value = std::strtof(text.c_str(), &end);
  if (text.empty() || *end != '\0') {
    return MakeError(ErrorCode::kInternal, "libxgboost reports no base_score");
  }
  return value;
}

class XGBoostLibraryModel final : public LoadedModel {
 public:
  XGBoostLibraryModel(std::vector<std::unique_ptr<PooledBooster>> boosters, size_t num_features,
                      size_t num_outputs)
      : boosters_(std::move(boosters)), num_features_(num_features), num_outputs_(num_outputs) {}

  size_t num_features() const override { return num_features_; }
  size_t num_outputs() const override { return num_outputs_; }
  bool accepts_missing() const override { return true; }
  std::string_view runtime() const override { return "xgboost"; }

  Status Predict(std::span<const float> features, size_t rows,
                 std::span<float> outputs) const override {
    // Divisions, not products: a hostile row count cannot overflow them.
    if (features.size() % num_features_ != 0 || features.size() / num_features_ != rows ||
        outputs.size() % num_outputs_ != 0 || outputs.size() / num_outputs_ != rows) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "expected {} rows of {} features and room for {} outputs each, got {} "
                       "values and {} outputs",
                       rows, num_features_, num_outputs_, features.size(), outputs.size());
    }
    if (rows == 0) return Ok();
    const std::string array =
        fmt::format(R"({{"data": [{}, true], "shape": [{}, {}], "typestr": "<f4", "version": 3}})",
                    reinterpret_cast<uintptr_t>(features.data()), rows, num_features_);
    PooledBooster& booster = Acquire();
    std::lock_guard lock(booster.mutex, std::adopt_lock);
    const bst_ulong* shape = nullptr;
    bst_ulong dimensions = 0;
    const float* result = nullptr;
    if (XGBoosterPredictFromDense(booster.handle.get(), array.c_str(), kPredictConfig, nullptr,
                                  &shape, &dimensions, &result) != 0) {
      return MakeError(ErrorCode::kInternal, "libxgboost prediction failed: {}", LastError());
    }
    size_t values = 1;
    for (bst_ulong d = 0; d < dimensions; ++d) values *= shape[d];
    if (values != outputs.size()) {
      return MakeError(ErrorCode::kInternal, "libxgboost returned {} values for {} rows", values,
                       rows);
    }
    std::copy(result, result + values, outputs.data());
    return Ok();
  }

 private:
  // Locks and returns a free booster if there is one, else waits for one (spreading waiters).
  PooledBooster& Acquire() const {
    const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % boosters_.size();
    for (size_t i = 0; i < boosters_.size(); ++i) {
      PooledBooster& booster = *boosters_[(start + i) % boosters_.size()];
      if (booster.mutex.try_lock()) return booster;
    }
    boosters_[start]->mutex.lock();
    return *boosters_[start];
  }

  const std::vector<std::unique_ptr<PooledBooster>> boosters_;
  const size_t num_features_;
  const size_t num_outputs_;
  mutable std::atomic<size_t> next_{0};
};

// The base_score to set on a 1.7 booster, or none when 1.7 reads the file's own correctly.
Result<std::optional<std::string>> BaseScoreFor17(const XGBoostModel& model) {
  if (!model.base_score_is_vector) return std::nullopt;
  const auto& values = model.base_score;
  if (std::any_of(values.begin(), values.end(), [&](float v) { return v != values[0]; })) {
    return MakeError(ErrorCode::kUnimplemented,
                     "libxgboost {} cannot serve this model: XGBoost {}.{}.{} saved one "
                     "base_score per output ({}), and 1.7 has a single base_score",
                     LibraryVersion(), model.version[0], model.version[1], model.version[2],
                     model.base_score_text.substr(0, 80));
  }
  // Nine significant digits: 1.7's parser misreads some shorter forms by an ulp.
  return fmt::format("{:.9g}", values[0]);
}

Result<BoosterPtr> LoadBooster(std::string_view artifact, const XGBoostModel& model,
                               const std::optional<std::string>& base_score) {
  BoosterHandle raw = nullptr;
  if (XGBoosterCreate(nullptr, 0, &raw) != 0) {
    return MakeError(ErrorCode::kInternal, "libxgboost: {}", LastError());
  }
  BoosterPtr handle(raw);
  if (XGBoosterLoadModelFromBuffer(raw, artifact.data(), artifact.size()) != 0) {
    // The file passed our reader, so what the library refuses is a newer format it lacks.
    return MakeError(ErrorCode::kUnimplemented,
                     "libxgboost {} cannot read this model saved by XGBoost {}.{}.{}: {}",
                     LibraryVersion(), model.version[0], model.version[1], model.version[2],
                     LastError());
  }
  if (XGBoosterSetParam(raw, "nthread", "1") != 0 ||
      (base_score && XGBoosterSetParam(raw, "base_score", base_score->c_str()) != 0)) {
    return MakeError(ErrorCode::kInternal, "libxgboost: {}", LastError());
  }
  return handle;
}

// What the first booster must agree with the file on before the model is served.
Status CheckBooster(BoosterHandle handle, const XGBoostModel& model) {
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(handle, &features) != 0 || features != model.num_features) {
    return MakeError(ErrorCode::kUnimplemented,
                     "libxgboost {} reads {} features from a model that has {}", LibraryVersion(),
                     features, model.num_features);
  }
  FALAJ_ASSIGN_OR_RETURN(const float base_score, ConfiguredBaseScore(handle));
  // 1.7 parses its own "base_score" text with a parser that can be an ulp off.
  if (std::fabs(base_score - model.base_score[0]) > 1e-6f * std::max(1.0f, std::fabs(base_score))) {
    return MakeError(ErrorCode::kUnimplemented,
                     "libxgboost {} reads base_score {} from a model saved by XGBoost {}.{}.{} "
                     "with base_score {}",
                     LibraryVersion(), base_score, model.version[0], model.version[1],
                     model.version[2], model.base_score_text.substr(0, 80));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> LoadXGBoostModel(std::string_view artifact) {
  FALAJ_ASSIGN_OR_RETURN(const XGBoostModel model, ReadXGBoostModel(artifact));
  FALAJ_ASSIGN_OR_RETURN(const std::optional<std::string> base_score, BaseScoreFor17(model));
  const size_t pool = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kMaxBoosters);
  std::vector<std::unique_ptr<PooledBooster>> boosters;
  for (size_t i = 0; i < pool; ++i) {
    FALAJ_ASSIGN_OR_RETURN(BoosterPtr handle, LoadBooster(artifact, model, base_score));
    if (i == 0) FALAJ_RETURN_IF_ERROR(CheckBooster(handle.get(), model));
    boosters.push_back(std::make_unique<PooledBooster>());
    boosters.back()->handle = std::move(handle);
  }
  FALAJ_ASSIGN_OR_RETURN(const size_t outputs,
                         OutputsPerRow(boosters.front()->handle.get(), model.num_features));
  if (outputs == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "libxgboost predicts nothing for the model");
  }
  return std::make_unique<XGBoostLibraryModel>(std::move(boosters), model.num_features, outputs);
}

}  // namespace falaj::serving
