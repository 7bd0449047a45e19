// Random search: trial n's parameters are drawn from the search space with a generator seeded
// from (study seed, n) alone. Trial n therefore gets the same parameters whatever the parallelism
// and whichever trials finished first, and a study with the same seed replays exactly. ASHA
// samples its configurations the same way; it differs only in stopping trials early (asha.h).
//
// Thread-safety: immutable after construction; SampleTrial may be called from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "training/search_space.h"

namespace falaj::training {

class RandomSampler {
 public:
  RandomSampler(SearchSpace space, uint64_t seed) : space_(std::move(space)), seed_(seed) {}

  // The parameters of trial `trial` (numbered from 1).
  nlohmann::json SampleTrial(int trial) const;

  const SearchSpace& space() const { return space_; }

 private:
  SearchSpace space_;
  uint64_t seed_;
};

// SplitMix64's finaliser: spreads (seed, trial) over the whole 64-bit range so that neighbouring
// trials do not get correlated Mersenne Twister states.
uint64_t MixSeed(uint64_t seed, uint64_t stream);

}  // namespace falaj::training
