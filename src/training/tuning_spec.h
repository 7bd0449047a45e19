// The tuning spec a "tune" job carries, parsed strictly from JSON:
//   {"space": {...search_space.h...},
//    "algorithm": "random" | "asha",                       default "random"
//    "max_trials": 20, "max_seconds": 600,                  trials required ≥ 1; seconds optional
//    "parallelism": 2, "seed": 0,                           defaults 1 and 0
//    "asha": {"min_resource": 1, "reduction_factor": 3, "max_resource": 100},
//    "metric": "auc", "direction": "maximize" | "minimize", optional overrides of the trainer's
//    "experiment": "tuning",                                tracking experiment name; optional
//    "train": {...}}                                        the training spec, passed through
// "asha" is required for ASHA and optional for random search, where only its max_resource (the
// per-trial budget) applies; without it a random-search trial runs the training spec's length.
// Unknown fields are rejected; errors are INVALID_ARGUMENT naming the field.
//
// Thread-safety: plain data and a pure function.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "training/search_space.h"
#include "training/tuner.h"

namespace falaj::training {

inline constexpr int kMaxTrialsLimit = 10000;
inline constexpr int kMaxParallelism = 64;

struct TuningSpec {
  SearchSpace space;
  Algorithm algorithm = Algorithm::kRandom;
  int max_trials = 20;
  std::optional<double> max_seconds;
  int parallelism = 1;
  uint64_t seed = 0;
  AshaConfig asha;  // max_resource 0 = the training spec's own length (random search only)
  std::optional<std::string> metric;
  std::optional<bool> higher_is_better;  // from "direction"
  std::string experiment;                // "" = MLflow's Default experiment
  nlohmann::json train = nlohmann::json::object();
};

Result<TuningSpec> ParseTuningSpec(const nlohmann::json& spec);

// The study options for `spec` run with `runner`, whose metric and direction apply unless the
// spec overrides them.
StudyOptions MakeStudyOptions(const TuningSpec& spec, const TrialRunner& runner);

}  // namespace falaj::training
