#include "training/random_search.h"

#include <random>

namespace falaj::training {

uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

nlohmann::json RandomSampler::SampleTrial(int trial) const {
  std::mt19937_64 rng(MixSeed(seed_, static_cast<uint64_t>(trial)));
  return space_.Sample(rng);
}

}  // namespace falaj::training
