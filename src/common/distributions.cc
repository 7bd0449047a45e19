#include "common/distributions.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace falaj {
// The work is done in long double (64-bit mantissa on x86-64): near the mean of a beta with
// a parameter in the millions (Welch df) the continued fraction loses ~6 digits in double.
namespace impl {

using Real = long double;

struct TailsL {
  Real lower = 0;
  Real upper = 0;
};

Real LogBeta(Real a, Real b);

namespace {

constexpr Real kEpsilon = std::numeric_limits<Real>::epsilon();
constexpr Real kTiny = 1e-300;  // keeps Lentz's method away from division by zero
constexpr int kMaxIterations = 100000;
constexpr Real kLnSqrt2Pi = 0.91893853320467274178L;

// Stirling's series remainder: lgamma(x) - [(x - 0.5) ln x - x + ln sqrt(2 pi)], for x >= 10.
// Seven terms leave an error below 1e-17 there.
Real StirlingCorrection(Real x) {
  const Real r = 1.0L / (x * x);
  return (1.0L / 12 -
          r * (1.0L / 360 -
               r * (1.0L / 1260 -
                    r * (1.0L / 1680 - r * (1.0L / 1188 - r * (691.0L / 360360 - r / 156)))))) /
         x;
}

// Modified Lentz evaluation of the continued fraction for I_x(a, b) (Numerical Recipes 6.4).
Real BetaContinuedFraction(Real a, Real b, Real x) {
  const Real qab = a + b;
  const Real qap = a + 1;
  const Real qam = a - 1;
  Real c = 1;
  Real d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  Real h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const Real m2 = 2.0 * m;
    Real aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const Real delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < kEpsilon) break;
  }
  return h;
}

// Logarithms of x and y = 1 - x, each from whichever argument keeps its precision.
Real LogOf(Real x, Real one_minus_x) { return x > 0.5 ? std::log1p(-one_minus_x) : std::log(x); }

Real StudentTLogPdf(Real t, Real df) {
  return -(df + 1) / 2 * std::log1p(t * t / df) - 0.5 * std::log(df) - LogBeta(df / 2, 0.5);
}

}  // namespace

Real LogBeta(Real a, Real b) {
  const Real p = std::fmin(a, b);
  const Real q = std::fmax(a, b);
  if (p >= 10) {
    const Real correction =
        StirlingCorrection(p) + StirlingCorrection(q) - StirlingCorrection(p + q);
    return -0.5 * std::log(q) + kLnSqrt2Pi + correction + (p - 0.5) * std::log(p / (p + q)) +
           q * std::log1p(-p / (p + q));
  }
  if (q >= 10) {
    const Real correction = StirlingCorrection(q) - StirlingCorrection(p + q);
    return std::lgamma(p) + correction + p - p * std::log(p + q) +
           (q - 0.5) * std::log1p(-p / (p + q));
  }
  return std::lgamma(p) + std::lgamma(q) - std::lgamma(p + q);
}

TailsL RegularizedBeta(Real a, Real b, Real x, Real y) {
  if (x <= 0) return {0, 1};
  if (y <= 0) return {1, 0};
  const Real log_front = a * LogOf(x, y) + b * LogOf(y, x) - LogBeta(a, b);
  // The fraction converges fast below the mean (a + 1) / (a + b + 2); above it the symmetry
  // I_x(a, b) = 1 - I_y(b, a) evaluates the other tail, so the small tail is always direct.
  if (x < (a + 1) / (a + b + 2)) {
    const Real lower = std::exp(log_front - std::log(a)) * BetaContinuedFraction(a, b, x);
    return {lower, 1 - lower};
  }
  const Real upper = std::exp(log_front - std::log(b)) * BetaContinuedFraction(b, a, y);
  return {1 - upper, upper};
}

TailsL RegularizedGamma(Real a, Real x) {
  if (x <= 0) return {0, 1};
  const Real log_front = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1) {
    // Series for P (Numerical Recipes 6.2).
    Real term = 1 / a;
    Real sum = term;
    for (int n = 1; n <= kMaxIterations; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * kEpsilon) break;
    }
    const Real lower = sum * std::exp(log_front);
    return {lower, 1 - lower};
  }
  // Continued fraction for Q (Lentz).
  Real b = x + 1 - a;
  Real c = 1 / kTiny;
  Real d = 1 / b;
  Real h = d;
  for (int i = 1; i <= kMaxIterations; ++i) {
    const Real an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const Real delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < kEpsilon) break;
  }
  const Real upper = std::exp(log_front) * h;
  return {1 - upper, upper};
}

Real NormalCdf(Real x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2_v<Real>); }

Real NormalSf(Real x) { return 0.5 * std::erfc(x / std::numbers::sqrt2_v<Real>); }

Real NormalQuantile(Real p) {
  if (p <= 0) return -std::numeric_limits<Real>::infinity();
  if (p >= 1) return std::numeric_limits<Real>::infinity();
  // 1 - p is exact for p >= 0.5, so the upper half reuses the lower one without loss.
  if (p > 0.5) return -NormalQuantile(1 - p);
  // Acklam's rational approximation (relative error 1.15e-9), then Halley steps on erfc.
  static constexpr Real kA[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr Real kB[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
  static constexpr Real kC[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr Real kD[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
  Real x;
  if (p < 0.02425) {
    const Real q = std::sqrt(-2 * std::log(p));
    x = (((((kC[0] * q + kC[1]) * q + kC[2]) * q + kC[3]) * q + kC[4]) * q + kC[5]) /
        ((((kD[0] * q + kD[1]) * q + kD[2]) * q + kD[3]) * q + 1);
  } else {
    const Real q = p - 0.5;
    const Real r = q * q;
    x = (((((kA[0] * r + kA[1]) * r + kA[2]) * r + kA[3]) * r + kA[4]) * r + kA[5]) * q /
        (((((kB[0] * r + kB[1]) * r + kB[2]) * r + kB[3]) * r + kB[4]) * r + 1);
  }
  for (int step = 0; step < 2; ++step) {
    const Real e = NormalCdf(x) - p;
    const Real u = e * std::sqrt(2 * std::numbers::pi_v<Real>) * std::exp(0.5 * x * x);
    if (!std::isfinite(u)) break;
    x -= u / (1 + x * u / 2);
  }
  return x;
}

Real StudentTSf(Real t, Real df) {
  const Real t2 = t * t;
  // 2 * P(T > |t|) = I_x(df / 2, 1 / 2) with x = df / (df + t^2).
  const TailsL tails = RegularizedBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
  return t >= 0 ? 0.5 * tails.lower : 0.5 + 0.5 * tails.upper;
}

Real StudentTQuantile(Real p, Real df) {
  if (p <= 0) return -std::numeric_limits<Real>::infinity();
  if (p >= 1) return std::numeric_limits<Real>::infinity();
  if (p == 0.5) return 0;
  // Solve P(T > t) = q for t > 0 with q the smaller tail (1 - p is exact for p > 0.5).
  const Real q = p < 0.5 ? p : 1 - p;
  const Real sign = p < 0.5 ? -1 : 1;
  const Real z = -NormalQuantile(q);
  // Cornish-Fisher start; Newton on log P(T > t) then converges in a few steps.
  Real t = z + (z * z * z + z) / (4 * df) +
           (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * df * df);
  Real lo = 0;
  Real hi = std::fmax(t, 1.0);
  while (StudentTSf(hi, df) > q) {
    lo = hi;
    hi *= 2;
  }
  if (!(t > lo && t < hi)) t = 0.5 * (lo + hi);
  const Real log_q = std::log(q);
  // Near the median P(T > t) is 0.5 minus a small number that it holds to absolute, not
  // relative, precision; there Newton works on P(0 < T < t) = |p - 0.5| (exact) instead.
  const bool central = q > 0.25;
  const Real half_width = std::fabs(p - 0.5);
  for (int i = 0; i < 200; ++i) {
    const Real t2 = t * t;
    const TailsL tails = RegularizedBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
    const Real pdf = std::exp(StudentTLogPdf(t, df));
    const Real sf = 0.5 * tails.lower;
    if (sf > q) {
      lo = t;
    } else {
      hi = t;
    }
    const Real step =
        central ? (half_width - 0.5 * tails.upper) / pdf : (std::log(sf) - log_q) * sf / pdf;
    Real next = t + step;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const bool converged = std::fabs(next - t) <= 1e-17L * t;
    t = next;
    if (converged) break;
  }
  return sign * t;
}

Real ChiSquareSf(Real x, Real df) { return RegularizedGamma(df / 2, x / 2).upper; }

}  // namespace impl

double LogBeta(double a, double b) { return static_cast<double>(impl::LogBeta(a, b)); }

Tails RegularizedBeta(double a, double b, double x, double y) {
  const impl::TailsL t = impl::RegularizedBeta(a, b, x, y);
  return {static_cast<double>(t.lower), static_cast<double>(t.upper)};
}

Tails RegularizedGamma(double a, double x) {
  const impl::TailsL t = impl::RegularizedGamma(a, x);
  return {static_cast<double>(t.lower), static_cast<double>(t.upper)};
}

double NormalCdf(double x) { return static_cast<double>(impl::NormalCdf(x)); }
double NormalSf(double x) { return static_cast<double>(impl::NormalSf(x)); }
double NormalQuantile(double p) { return static_cast<double>(impl::NormalQuantile(p)); }
double StudentTSf(double t, double df) { return static_cast<double>(impl::StudentTSf(t, df)); }
double StudentTCdf(double t, double df) { return static_cast<double>(impl::StudentTSf(-t, df)); }
double StudentTQuantile(double p, double df) {
  return static_cast<double>(impl::StudentTQuantile(p, df));
}
double ChiSquareSf(double x, double df) { return static_cast<double>(impl::ChiSquareSf(x, df)); }

}  // namespace falaj
