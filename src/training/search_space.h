// Hyperparameter search spaces: each named parameter has a distribution (uniform, log-uniform,
// uniform integer optionally on a log scale, or a categorical list of JSON values). A space is
// parsed from JSON, e.g.
//   {"eta": {"type": "loguniform", "low": 0.01, "high": 0.3},
//    "max_depth": {"type": "int", "low": 2, "high": 10},
//    "subsample": {"type": "uniform", "low": 0.5, "high": 1.0},
//    "booster": {"type": "categorical", "values": ["gbtree", "dart"]}}
// and sampled from a caller-owned std::mt19937_64. The engine's output sequence is fixed by the
// C++ standard and the conversion to numbers is ours (not std::*_distribution, whose algorithms
// differ between standard libraries), so a seed gives the same parameters everywhere.
//
// Thread-safety: a SearchSpace is immutable after parsing; Sample may run concurrently with
// separate generators.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/result.h"

namespace falaj::training {

enum class ParamKind { kUniform, kLogUniform, kInt, kCategorical };

struct ParamSpec {
  std::string name;
  ParamKind kind = ParamKind::kUniform;
  double low = 0;                      // inclusive; for kInt an integer
  double high = 0;                     // exclusive for kUniform/kLogUniform, inclusive for kInt
  bool log = false;                    // kInt only: uniform in log space
  std::vector<nlohmann::json> values;  // kCategorical only
};

// A uniform double in [0, 1) with 53 random bits.
double UniformUnit(std::mt19937_64& rng);

class SearchSpace {
 public:
  // INVALID_ARGUMENT naming the offending field as "space.<param>.<field>" for: a space that is
  // not a non-empty object, an unknown "type", missing or non-numeric bounds, low >= high (low >
  // high for int), a non-positive low for a log scale, non-integer int bounds, an empty or
  // non-array categorical "values", or unknown fields.
  static Result<SearchSpace> Parse(const nlohmann::json& space);

  // One value per parameter, as a JSON object keyed by name. Parameters draw from `rng` in name
  // order, one draw each, so adding a parameter does not reshuffle the others' draws.
  nlohmann::json Sample(std::mt19937_64& rng) const;

  const std::vector<ParamSpec>& params() const { return params_; }

 private:
  std::vector<ParamSpec> params_;  // sorted by name
};

std::string_view ParamKindName(ParamKind kind);  // "uniform", "loguniform", "int", "categorical"

}  // namespace falaj::training
