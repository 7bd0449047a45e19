// Asynchronous successive halving (ASHA, Li et al. 2018), in the stopping form of Ray Tune's
// ASHAScheduler. Rungs sit at min_resource·η^k (k = 0, 1, …) below max_resource. When a trial
// first reaches a rung (its step ≥ the rung's resource), its value is compared with the values
// that earlier trials recorded at that rung: it is stopped if it is below the (1 − 1/η) quantile
// of them (linear interpolation, as numpy's percentile), i.e. if it is not in their top 1/η;
// either way its value is then recorded there. The first trial at a rung always continues, and
// decisions never wait for other trials: that is what makes it asynchronous. A NaN value is
// stopped and not recorded. For a metric to minimise, values are negated first.
//
// Thread-safety: OnReport may be called concurrently from parallel trials (one mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/result.h"

namespace falaj::training {

struct AshaConfig {
  int min_resource = 1;      // the first rung, also called the grace period
  int reduction_factor = 3;  // η: each rung keeps the top 1/η
  int max_resource = 0;      // a trial's full budget; rungs lie strictly below it
};

// INVALID_ARGUMENT naming "asha.<field>" unless 1 ≤ min_resource < max_resource and η ≥ 2.
Status ValidateAshaConfig(const AshaConfig& config);

// The rung resources min_resource·η^k that are below max_resource, ascending.
std::vector<int> AshaRungs(const AshaConfig& config);

// The value at quantile q = numerator / denominator ∈ [0, 1] of `sorted` (ascending, non-empty),
// interpolating linearly between neighbours: numpy.percentile's default method. q is a ratio of
// integers so that the position (n − 1)·q is exact: a value equal to a recorded one compares
// the same way whichever direction the metric has.
double InterpolatedQuantile(const std::vector<double>& sorted, int64_t numerator,
                            int64_t denominator);

struct AshaDecision {
  bool stop = false;
  std::optional<int> rung;       // the rung resource this report was recorded at, if any
  std::optional<double> cutoff;  // the quantile it was compared with (in the metric's own sign)
};

class AshaScheduler {
 public:
  // `config` must be valid (ValidateAshaConfig).
  AshaScheduler(AshaConfig config, bool higher_is_better);

  // Trial `trial` reports `value` after `step` units of resource.
  AshaDecision OnReport(int trial, int step, double value);

  const std::vector<int>& rungs() const { return rungs_; }

 private:
  struct Rung {
    std::multiset<double> values;  // recorded values, as "higher is better"
    std::set<int> trials;          // trials recorded here
  };

  const AshaConfig config_;
  const bool higher_is_better_;
  const std::vector<int> rungs_;
  std::mutex mu_;
  std::vector<Rung> recorded_;  // parallel to rungs_; guarded by mu_
};

}  // namespace falaj::training
