#include "abtest/statistics.h"

#include <cmath>
#include <limits>

#include "common/distributions.h"

namespace falaj::abtest {
namespace {

Status CheckAlpha(double alpha) {
  if (!(alpha > 0 && alpha < 1)) {
    return MakeError(ErrorCode::kInvalidArgument, "alpha must be in (0, 1), got {}", alpha);
  }
  return Ok();
}

// Delta-method interval for (mean_b - mean_a) / |mean_a| from each mean's sampling variance.
std::optional<Estimate> RelativeLift(double mean_a, double var_a, double mean_b, double var_b,
                                     double quantile) {
  if (mean_a == 0) return std::nullopt;
  const double a2 = mean_a * mean_a;
  const double lift = (mean_b - mean_a) / std::fabs(mean_a);
  const double se = std::sqrt(var_b / a2 + mean_b * mean_b * var_a / (a2 * a2));
  return Estimate{lift, {lift - quantile * se, lift + quantile * se}};
}

}  // namespace

Status ValidateArm(const ProportionArm& arm) {
  if (arm.units <= 0 || arm.conversions < 0 || arm.conversions > arm.units) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "an arm needs units > 0 and 0 <= conversions <= units, got {} of {}",
                     arm.conversions, arm.units);
  }
  return Ok();
}

Status ValidateArm(const MeanArm& arm) {
  if (arm.units < 2 || !std::isfinite(arm.mean) || !std::isfinite(arm.variance) ||
      arm.variance < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "an arm needs >= 2 units, a finite mean and a variance >= 0 (units {}, "
                     "mean {}, variance {})",
                     arm.units, arm.mean, arm.variance);
  }
  return Ok();
}

RateEstimate EstimateRate(const ProportionArm& arm) {
  const double n = static_cast<double>(arm.units);
  const double p = static_cast<double>(arm.conversions) / n;
  return {p, p * (1 - p) / n};
}

Result<TestResult> TwoProportionZTest(const ProportionArm& control, const ProportionArm& treatment,
                                      double alpha) {
  FALAJ_RETURN_IF_ERROR(CheckAlpha(alpha));
  FALAJ_RETURN_IF_ERROR(ValidateArm(control));
  FALAJ_RETURN_IF_ERROR(ValidateArm(treatment));
  const double n_a = static_cast<double>(control.units);
  const double n_b = static_cast<double>(treatment.units);
  const RateEstimate a = EstimateRate(control);
  const RateEstimate b = EstimateRate(treatment);
  const double pooled =
      static_cast<double>(control.conversions + treatment.conversions) / (n_a + n_b);
  const double pooled_var = pooled * (1 - pooled) * (1 / n_a + 1 / n_b);
  if (pooled_var <= 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "both arms have the same all-or-nothing conversion; nothing to test");
  }
  TestResult result;
  const double diff = b.rate - a.rate;
  result.statistic = diff / std::sqrt(pooled_var);
  result.degrees_of_freedom = std::numeric_limits<double>::infinity();
  result.p_value = 2 * NormalSf(std::fabs(result.statistic));
  const double quantile = -NormalQuantile(alpha / 2);
  const double se = std::sqrt(a.variance + b.variance);
  result.absolute = {diff, {diff - quantile * se, diff + quantile * se}};
  result.relative = RelativeLift(a.rate, a.variance, b.rate, b.variance, quantile);
  return result;
}

Result<TestResult> WelchTTest(const MeanArm& control, const MeanArm& treatment, double alpha) {
  FALAJ_RETURN_IF_ERROR(CheckAlpha(alpha));
  FALAJ_RETURN_IF_ERROR(ValidateArm(control));
  FALAJ_RETURN_IF_ERROR(ValidateArm(treatment));
  const double n_a = static_cast<double>(control.units);
  const double n_b = static_cast<double>(treatment.units);
  const double var_a = control.variance / n_a;
  const double var_b = treatment.variance / n_b;
  const double var = var_a + var_b;
  if (var <= 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "both arms have zero variance");
  }
  TestResult result;
  const double diff = treatment.mean - control.mean;
  const double se = std::sqrt(var);
  result.statistic = diff / se;
  result.degrees_of_freedom = var * var / (var_a * var_a / (n_a - 1) + var_b * var_b / (n_b - 1));
  const double df = result.degrees_of_freedom;
  const double t2 = result.statistic * result.statistic;
  // Two-sided p = I_{df/(df+t^2)}(df/2, 1/2), evaluated directly so tiny p keep their digits.
  result.p_value = RegularizedBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2)).lower;
  const double quantile = StudentTQuantile(1 - alpha / 2, df);
  result.absolute = {diff, {diff - quantile * se, diff + quantile * se}};
  result.relative = RelativeLift(control.mean, var_a, treatment.mean, var_b, quantile);
  return result;
}

Result<SrmResult> SampleRatioMismatch(std::span<const int64_t> units,
                                      std::span<const double> weights, double threshold) {
  if (units.size() < 2 || units.size() != weights.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "SRM needs >= 2 arms and one weight per arm, got {} arms and {} weights",
                     units.size(), weights.size());
  }
  double total = 0;
  double weight_sum = 0;
  bool enough_units = true;
  for (size_t i = 0; i < units.size(); ++i) {
    if (units[i] < 0 || !(weights[i] > 0) || !std::isfinite(weights[i])) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "arm {} has {} units and weight {}; need units >= 0 and weight > 0", i,
                       units[i], weights[i]);
    }
    total += static_cast<double>(units[i]);
    weight_sum += weights[i];
    enough_units = enough_units && units[i] >= kSrmMinUnitsPerArm;
  }
  if (total <= 0) return MakeError(ErrorCode::kInvalidArgument, "SRM needs at least one unit");
  SrmResult result;
  for (size_t i = 0; i < units.size(); ++i) {
    const double expected = total * weights[i] / weight_sum;
    const double d = static_cast<double>(units[i]) - expected;
    result.chi_square += d * d / expected;
  }
  result.degrees_of_freedom = static_cast<double>(units.size() - 1);
  result.p_value = ChiSquareSf(result.chi_square, result.degrees_of_freedom);
  result.mismatch = enough_units && result.p_value < threshold;
  return result;
}

namespace {

Status CheckPower(double alpha, double power, double mde) {
  FALAJ_RETURN_IF_ERROR(CheckAlpha(alpha));
  if (!(power > 0 && power < 1)) {
    return MakeError(ErrorCode::kInvalidArgument, "power must be in (0, 1), got {}", power);
  }
  if (!(mde != 0) || !std::isfinite(mde)) {
    return MakeError(ErrorCode::kInvalidArgument, "the minimum detectable effect must be non-zero");
  }
  return Ok();
}

SampleSize Round(double exact) { return {exact, static_cast<int64_t>(std::ceil(exact))}; }

}  // namespace

Result<SampleSize> MinimumSampleSizeForProportions(double baseline, double mde, double alpha,
                                                   double power) {
  FALAJ_RETURN_IF_ERROR(CheckPower(alpha, power, mde));
  const double p1 = baseline;
  const double p2 = baseline + mde;
  if (!(p1 > 0 && p1 < 1 && p2 > 0 && p2 < 1)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "baseline {} and baseline + mde {} must both be in (0, 1)", p1, p2);
  }
  const double z_alpha = -NormalQuantile(alpha / 2);
  const double z_power = NormalQuantile(power);
  const double mean = (p1 + p2) / 2;
  const double root = z_alpha * std::sqrt(2 * mean * (1 - mean)) +
                      z_power * std::sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Round(root * root / (mde * mde));
}

Result<SampleSize> MinimumSampleSizeForMeans(double stddev, double mde, double alpha,
                                             double power) {
  FALAJ_RETURN_IF_ERROR(CheckPower(alpha, power, mde));
  if (!(stddev > 0) || !std::isfinite(stddev)) {
    return MakeError(ErrorCode::kInvalidArgument, "stddev must be > 0, got {}", stddev);
  }
  const double z = -NormalQuantile(alpha / 2) + NormalQuantile(power);
  return Round(2 * stddev * stddev * z * z / (mde * mde));
}

}  // namespace falaj::abtest
