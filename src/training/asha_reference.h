// Test support: a brute-force replay of ASHA's stopping rule, written independently of
// AshaScheduler to check its decisions. It keeps every report in one list and recomputes each
// cutoff from scratch on raw metric values, so it shares neither data structures nor the
// negation trick with the scheduler. Not thread-safe.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "training/asha.h"

namespace falaj::training {

class AshaReplay {
 public:
  AshaReplay(AshaConfig config, bool higher_is_better)
      : config_(config), higher_is_better_(higher_is_better) {}

  // Whether the rule stops `trial` when it reports `value` after `step` units.
  bool Stop(int trial, int step, double value) {
    if (std::isnan(value)) return true;
    // The highest rung reached: min_resource·η^k ≤ step with the rung < max_resource.
    int rung = 0;
    for (long r = config_.min_resource; r < config_.max_resource && r <= step;
         r *= config_.reduction_factor) {
      rung = static_cast<int>(r);
    }
    if (rung == 0) return false;
    std::vector<double> earlier;
    for (const auto& entry : recorded_) {
      if (entry.rung != rung) continue;
      if (entry.trial == trial) return false;  // already judged at this rung
      earlier.push_back(entry.value);
    }
    recorded_.push_back({trial, rung, value});
    if (earlier.empty()) return false;
    std::sort(earlier.begin(), earlier.end());
    // numpy.percentile, linear: position (n − 1)·q, with q = 1 − 1/η for "higher is better",
    // and for a loss the mirror image, q = 1/η on the raw values.
    const long eta = config_.reduction_factor;
    const long numerator = higher_is_better_ ? eta - 1 : 1;
    const long scaled = static_cast<long>(earlier.size() - 1) * numerator;
    const size_t below = static_cast<size_t>(scaled / eta);
    double cutoff = earlier[below];
    if (scaled % eta != 0) {
      cutoff += (earlier[below + 1] - earlier[below]) * static_cast<double>(scaled % eta) /
                static_cast<double>(eta);
    }
    return higher_is_better_ ? value < cutoff : value > cutoff;
  }

 private:
  struct Entry {
    int trial;
    int rung;
    double value;
  };
  AshaConfig config_;
  bool higher_is_better_;
  std::vector<Entry> recorded_;
};

}  // namespace falaj::training
