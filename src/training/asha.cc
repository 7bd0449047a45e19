#include "training/asha.h"

#include <cmath>
#include <cstdint>

namespace falaj::training {

Status ValidateAshaConfig(const AshaConfig& config) {
  if (config.min_resource < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "field 'asha.min_resource' must be at least 1");
  }
  if (config.reduction_factor < 2) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'asha.reduction_factor' must be at least 2");
  }
  if (config.max_resource <= config.min_resource) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'asha.max_resource' must exceed 'asha.min_resource' ({})",
                     config.min_resource);
  }
  return Ok();
}

std::vector<int> AshaRungs(const AshaConfig& config) {
  std::vector<int> rungs;
  // 64-bit so that η^k cannot overflow before it passes max_resource.
  for (int64_t resource = config.min_resource; resource < config.max_resource;
       resource *= config.reduction_factor) {
    rungs.push_back(static_cast<int>(resource));
  }
  return rungs;
}

double InterpolatedQuantile(const std::vector<double>& sorted, int64_t numerator,
                            int64_t denominator) {
  const int64_t scaled = static_cast<int64_t>(sorted.size() - 1) * numerator;
  const auto below = static_cast<size_t>(scaled / denominator);
  const int64_t remainder = scaled % denominator;
  if (remainder == 0) return sorted[below];
  // Multiplying before dividing keeps integer-valued metrics exact, so their ties stay ties.
  return sorted[below] + (sorted[below + 1] - sorted[below]) * static_cast<double>(remainder) /
                             static_cast<double>(denominator);
}

AshaScheduler::AshaScheduler(AshaConfig config, bool higher_is_better)
    : config_(config),
      higher_is_better_(higher_is_better),
      rungs_(AshaRungs(config)),
      recorded_(rungs_.size()) {}

AshaDecision AshaScheduler::OnReport(int trial, int step, double value) {
  AshaDecision decision;
  if (std::isnan(value)) {
    decision.stop = true;
    return decision;
  }
  const double signed_value = higher_is_better_ ? value : -value;
  std::lock_guard lock(mu_);
  // Like Ray's bracket: the highest rung the step has reached decides; a trial already recorded
  // there (or higher) is past every decision this step could trigger.
  for (size_t i = rungs_.size(); i-- > 0;) {
    if (step < rungs_[i]) continue;
    Rung& rung = recorded_[i];
    if (rung.trials.contains(trial)) break;
    if (!rung.values.empty()) {
      std::vector<double> sorted(rung.values.begin(), rung.values.end());
      const int eta = config_.reduction_factor;
      const double cutoff = InterpolatedQuantile(sorted, eta - 1, eta);
      decision.cutoff = higher_is_better_ ? cutoff : -cutoff;
      decision.stop = signed_value < cutoff;
    }
    rung.values.insert(signed_value);
    rung.trials.insert(trial);
    decision.rung = rungs_[i];
    break;
  }
  return decision;
}

}  // namespace falaj::training
