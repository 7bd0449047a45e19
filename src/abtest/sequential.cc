#include "abtest/sequential.h"

#include <cmath>

namespace falaj::abtest {
namespace {

Status CheckOptions(const SequentialOptions& options) {
  if (!(options.alpha > 0 && options.alpha < 1)) {
    return MakeError(ErrorCode::kInvalidArgument, "alpha must be in (0, 1), got {}", options.alpha);
  }
  if (!(options.tuning_units > 0) || !std::isfinite(options.tuning_units)) {
    return MakeError(ErrorCode::kInvalidArgument, "tuning_units must be > 0, got {}",
                     options.tuning_units);
  }
  return Ok();
}

Result<SequentialResult> Build(double diff, double standard_error, double total_units,
                               const SequentialOptions& options) {
  FALAJ_ASSIGN_OR_RETURN(const double half,
                         ConfidenceSequenceHalfWidth(standard_error, total_units, options));
  SequentialResult result;
  result.absolute = {diff, {diff - half, diff + half}};
  result.significant = result.absolute.ci.lower > 0 || result.absolute.ci.upper < 0;
  return result;
}

}  // namespace

double MixingVariance(const SequentialOptions& options) {
  const double l = -2 * std::log(options.alpha);
  return (l + std::log(l + 1)) / options.tuning_units;
}

Result<double> ConfidenceSequenceHalfWidth(double standard_error, double total_units,
                                           const SequentialOptions& options) {
  FALAJ_RETURN_IF_ERROR(CheckOptions(options));
  if (!(standard_error >= 0) || !(total_units > 0) || !std::isfinite(standard_error) ||
      !std::isfinite(total_units)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "need a standard error >= 0 and units > 0, got {} and {}", standard_error,
                     total_units);
  }
  const double rho2 = MixingVariance(options);
  const double n = total_units;
  const double s = standard_error * std::sqrt(n);
  const double nr = n * rho2 + 1;
  return s * std::sqrt(2 * nr / (n * n * rho2) * std::log(std::sqrt(nr) / options.alpha));
}

Result<SequentialResult> SequentialProportions(const ProportionArm& control,
                                               const ProportionArm& treatment,
                                               const SequentialOptions& options) {
  FALAJ_RETURN_IF_ERROR(ValidateArm(control));
  FALAJ_RETURN_IF_ERROR(ValidateArm(treatment));
  const RateEstimate a = EstimateRate(control);
  const RateEstimate b = EstimateRate(treatment);
  return Build(b.rate - a.rate, std::sqrt(a.variance + b.variance),
               static_cast<double>(control.units + treatment.units), options);
}

Result<SequentialResult> SequentialMeans(const MeanArm& control, const MeanArm& treatment,
                                         const SequentialOptions& options) {
  FALAJ_RETURN_IF_ERROR(ValidateArm(control));
  FALAJ_RETURN_IF_ERROR(ValidateArm(treatment));
  const double n_a = static_cast<double>(control.units);
  const double n_b = static_cast<double>(treatment.units);
  const double se = std::sqrt(control.variance / n_a + treatment.variance / n_b);
  return Build(treatment.mean - control.mean, se, n_a + n_b, options);
}

}  // namespace falaj::abtest
