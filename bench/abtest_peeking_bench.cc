// The peeking problem, measured: 10,000 seeded A/A tests (10% conversion in both arms) read
// after every 100 units up to 2,000 units each. Prints how often each method ever declared a
// difference — the always-valid confidence sequence (src/abtest/sequential.h) and the naive
// fixed-horizon z-test read at the same peeks. Both should be 5% at most; only one is.
// Usage: abtest_peeking_bench [tests] [seed]
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "abtest/aa_simulation.h"

int main(int argc, char** argv) {
  falaj::abtest::AaSimulationConfig config;
  if (argc > 1) config.tests = std::atoi(argv[1]);
  if (argc > 2) config.seed = std::strtoull(argv[2], nullptr, 10);
  if (config.tests <= 0) {
    std::fprintf(stderr, "usage: abtest_peeking_bench [tests > 0] [seed]\n");
    return 2;
  }
  const auto r = falaj::abtest::SimulateAaPeeking(config);
  const double se = std::sqrt(0.05 * 0.95 / r.tests);
  std::printf("A/A tests: %d, peeks every %lld units up to %lld, conversion %.2f, alpha %.2f\n",
              r.tests, static_cast<long long>(config.units_per_peek),
              static_cast<long long>(config.max_units), config.conversion_rate, config.alpha);
  std::printf("confidence sequence (N* = %.0f): false-positive rate %.4f\n", config.tuning_units,
              r.sequential_rate());
  std::printf("naive z-test at every peek:     false-positive rate %.4f\n", r.naive_rate());
  std::printf("(binomial standard error at 5%%: %.4f)\n", se);
  return r.sequential_rate() <= 0.05 + 2 * se ? 0 : 1;
}
