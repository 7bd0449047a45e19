// Distribution functions the A/B test and drift statistics need: the standard normal, Student's t
// and chi-square CDFs / survival functions / quantiles, built on the regularized incomplete beta
// and gamma functions (continued fractions after Lentz, as in Numerical Recipes ch. 6 and Cephes).
// Agrees with scipy to ~1e-12 relative, tails included (internals in long double); see
// docs/abtest.md.
// Every function is pure and thread-safe.
#pragma once

namespace falaj {

// Both tails of a regularized incomplete function, each computed without cancellation where
// it is the small one (lower + upper == 1 up to rounding).
struct Tails {
  double lower = 0;
  double upper = 0;
};

// ln B(a, b) for a, b > 0, without the cancellation of lgamma(a) + lgamma(b) - lgamma(a + b)
// when an argument is large (Welch degrees of freedom reach millions).
double LogBeta(double a, double b);

// I_x(a, b) and 1 - I_x(a, b) for a, b > 0 and x = 1 - y in [0, 1]. Taking y separately keeps
// the precision of an x close to 1.
Tails RegularizedBeta(double a, double b, double x, double y);

// P(a, x) and Q(a, x) = 1 - P(a, x), the regularized lower and upper incomplete gamma.
Tails RegularizedGamma(double a, double x);

double NormalCdf(double x);
double NormalSf(double x);
// The x with NormalCdf(x) == p, for p in (0, 1); -inf / +inf at 0 / 1.
double NormalQuantile(double p);

// Student's t with df > 0 degrees of freedom.
double StudentTSf(double t, double df);
double StudentTCdf(double t, double df);
// The t with StudentTCdf(t, df) == p, for p in (0, 1).
double StudentTQuantile(double p, double df);

// P(X > x) for X ~ chi-square with df > 0 degrees of freedom.
double ChiSquareSf(double x, double df);

}  // namespace falaj
