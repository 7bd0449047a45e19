// A seeded simulation of A/A tests (both arms share one conversion rate) that are read after
// every batch of units, counting how often each method ever declares a difference: the
// always-valid confidence sequence (sequential.h) and the naive fixed-horizon z-test read at the
// same peeks. Used by the peeking unit test and bench/abtest_peeking_bench.cc. Pure function of
// its config (its own std::mt19937_64), thread-safe.
#pragma once

#include <cstdint>

namespace falaj::abtest {

struct AaSimulationConfig {
  int tests = 10000;
  int64_t units_per_peek = 100;  // both arms together, split evenly
  int64_t max_units = 2000;      // per test, both arms
  double conversion_rate = 0.1;
  double alpha = 0.05;
  double tuning_units = 5000;  // the confidence sequence's N*
  uint64_t seed = 42;
};

struct AaSimulationResult {
  int tests = 0;
  int sequential_false_positives = 0;  // the confidence sequence ever excluded 0
  int naive_false_positives = 0;       // the z-test ever had p < alpha
  double sequential_rate() const { return static_cast<double>(sequential_false_positives) / tests; }
  double naive_rate() const { return static_cast<double>(naive_false_positives) / tests; }
};

AaSimulationResult SimulateAaPeeking(const AaSimulationConfig& config);

}  // namespace falaj::abtest
