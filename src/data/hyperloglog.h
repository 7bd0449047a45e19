// A HyperLogLog distinct-count sketch with 2^12 one-byte registers (4 KiB), and the stable 64-bit
// hashes that feed it. The estimate uses Ertl's improved estimator ("New cardinality estimation
// algorithms for HyperLogLog sketches", 2017), which needs no bias tables and has a relative
// standard error of about 1.04 / sqrt(4096) = 1.6% at every cardinality, small ones included.
// Hashes are fixed functions of the value (not of the build or platform), so sketches made by
// different processes can be merged. A sketch is a plain value: not thread-safe to mutate
// concurrently; the hash functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace falaj::data {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  static constexpr int kRegisters = 1 << kPrecision;
  // 1.04 / sqrt(kRegisters): one relative standard error of Estimate().
  static constexpr double kStandardError = 1.04 / 64.0;

  // Records one value by its 64-bit hash (from HashInteger or HashBytes).
  void AddHash(uint64_t hash) {
    uint32_t index = static_cast<uint32_t>(hash >> (64 - kPrecision));
    // The remaining bits with a sentinel 1, so the rank is at most 64 - kPrecision + 1.
    uint64_t rest = (hash << kPrecision) | (uint64_t{1} << (kPrecision - 1));
    uint8_t rank = static_cast<uint8_t>(__builtin_clzll(rest) + 1);
    if (rank > registers_[index]) registers_[index] = rank;
  }

  // Afterwards the sketch estimates the union of both inputs.
  void Merge(const HyperLogLog& other);

  // Estimated number of distinct hashes added.
  double Estimate() const;

 private:
  std::array<uint8_t, kRegisters> registers_{};
};

// Hash of an integer value (or the bits of a double): the murmur3 64-bit finaliser.
uint64_t HashInteger(uint64_t value);

// Hash of a byte string, 8 bytes at a time, read as little-endian on every platform.
uint64_t HashBytes(std::string_view bytes);

}  // namespace falaj::data
