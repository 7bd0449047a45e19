#include "abtest/aa_simulation.h"

#include <random>

#include "abtest/sequential.h"
#include "abtest/statistics.h"

namespace falaj::abtest {

AaSimulationResult SimulateAaPeeking(const AaSimulationConfig& config) {
  std::mt19937_64 rng(config.seed);
  const int64_t per_arm = config.units_per_peek / 2;
  std::binomial_distribution<int64_t> batch(per_arm, config.conversion_rate);
  const SequentialOptions options{.alpha = config.alpha, .tuning_units = config.tuning_units};
  AaSimulationResult result;
  result.tests = config.tests;
  for (int test = 0; test < config.tests; ++test) {
    ProportionArm a;
    ProportionArm b;
    bool sequential_hit = false;
    bool naive_hit = false;
    for (int64_t units = config.units_per_peek; units <= config.max_units;
         units += config.units_per_peek) {
      a.units += per_arm;
      b.units += per_arm;
      a.conversions += batch(rng);
      b.conversions += batch(rng);
      // An all-or-nothing start has no variance yet: neither method can read it.
      if (const auto z = TwoProportionZTest(a, b, config.alpha); z) {
        naive_hit = naive_hit || z->p_value < config.alpha;
      }
      if (const auto cs = SequentialProportions(a, b, options); cs) {
        sequential_hit = sequential_hit || cs->significant;
      }
    }
    result.sequential_false_positives += sequential_hit;
    result.naive_false_positives += naive_hit;
  }
  return result;
}

}  // namespace falaj::abtest
