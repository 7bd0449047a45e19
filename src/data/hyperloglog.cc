#include "data/hyperloglog.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

namespace falaj::data {
namespace {

constexpr int kMaxRank = 64 - HyperLogLog::kPrecision + 1;

// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), Ertl eq. (12).
double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double z = x;
  while (true) {
    x *= x;
    double previous = z;
    z += x * y;
    y += y;
    if (z == previous) return z;
  }
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, Ertl eq. (17).
double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double z = 1.0 - x;
  while (true) {
    x = std::sqrt(x);
    double previous = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
    if (z == previous) return z / 3.0;
  }
}

uint64_t LoadLittleEndian(const char* data, size_t size) {
  uint64_t word = 0;
  std::memcpy(&word, data, size);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

}  // namespace

void HyperLogLog::Merge(const HyperLogLog& other) {
  for (int i = 0; i < kRegisters; ++i) {
    if (other.registers_[i] > registers_[i]) registers_[i] = other.registers_[i];
  }
}

double HyperLogLog::Estimate() const {
  std::array<int, kMaxRank + 1> histogram{};
  for (uint8_t rank : registers_) ++histogram[rank];
  constexpr double m = kRegisters;
  double z = m * Tau(1.0 - histogram[kMaxRank] / m);
  for (int k = kMaxRank - 1; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * Sigma(histogram[0] / m);
  constexpr double kAlphaInfinity = 0.5 / std::numbers::ln2;
  return kAlphaInfinity * m * m / z;
}

uint64_t HashInteger(uint64_t value) {
  value ^= value >> 33;
  value *= 0xff51afd7ed558ccdULL;
  value ^= value >> 33;
  value *= 0xc4ceb9fe1a85ec53ULL;
  value ^= value >> 33;
  return value;
}

uint64_t HashBytes(std::string_view bytes) {
  constexpr uint64_t kMultiplier = 0x9E3779B97F4A7C15ULL;
  uint64_t hash = 0x243F6A8885A308D3ULL ^ (bytes.size() * kMultiplier);
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    hash = std::rotl((hash ^ HashInteger(LoadLittleEndian(bytes.data() + i, 8))) * kMultiplier, 29);
  }
  if (i < bytes.size()) {
    hash = std::rotl(
        (hash ^ HashInteger(LoadLittleEndian(bytes.data() + i, bytes.size() - i))) * kMultiplier,
        29);
  }
  return HashInteger(hash);
}

}  // namespace falaj::data
