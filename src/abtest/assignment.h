// Sticky, deterministic assignment of a unit (user id, account id …) to an arm of a test, the
// way GrowthBook's SDKs do it (hash version 2): hash = fnv1a32(decimal(fnv1a32(salt + key)))
// mod 10000 / 10000, with FNV-1a over UTF-16 code units so non-ASCII ids land where the
// JavaScript SDK puts them. Arms own consecutive ranges of [0, 1) proportional to their
// weights; with coverage c < 1 each range keeps its start and shrinks to c times its width, so
// ramping coverage up never moves a unit between arms. Nothing depends on process state, so
// every replica and every restart assigns the same arm. An Assignment is immutable after
// Create and safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::abtest {

// 32-bit FNV-1a of the UTF-16 code units of a UTF-8 string (invalid bytes hash as U+FFFD).
uint32_t Fnv1a32(std::string_view utf8);

// GrowthBook's hash version 2 of (seed, value): a bucket in [0, 1) with 1e-4 resolution.
double HashV2(std::string_view seed, std::string_view value);

struct AssignmentConfig {
  std::string salt;             // per test; GrowthBook's seed (the experiment key by default)
  std::vector<double> weights;  // one per arm, any positive scale (10/90 or 0.1/0.9)
  double coverage = 1.0;        // share of units in the test at all, in [0, 1]
};

class Assignment {
 public:
  // Fails with kInvalidArgument unless there is >= 1 arm, every weight is finite and > 0 and
  // coverage is in [0, 1].
  static Result<Assignment> Create(AssignmentConfig config);

  // The arm index of a unit, or nullopt when the unit falls outside coverage or the key is
  // empty (such units see the control experience and are not counted).
  std::optional<size_t> ArmFor(std::string_view unit_key) const;

  size_t arm_count() const { return ranges_.size(); }

 private:
  struct Range {
    double start;
    double end;
  };
  Assignment(std::string salt, std::vector<Range> ranges)
      : salt_(std::move(salt)), ranges_(std::move(ranges)) {}

  std::string salt_;
  std::vector<Range> ranges_;
};

}  // namespace falaj::abtest
