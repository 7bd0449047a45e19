#include "abtest/assignment.h"

#include <cmath>
#include <string>

namespace falaj::abtest {
namespace {

constexpr uint32_t kFnvOffset = 0x811c9dc5u;
constexpr uint32_t kFnvPrime = 16777619u;
constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at `i` and advances past it; malformed input yields U+FFFD, one byte
// at a time, so every byte string hashes to something stable.
char32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  int extra = 0;
  char32_t cp = 0;
  if (lead < 0x80) {
    ++i;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    extra = 1;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3;
    cp = lead & 0x07;
  } else {
    ++i;
    return kReplacement;
  }
  if (i + extra >= s.size()) {
    ++i;
    return kReplacement;
  }
  for (int k = 1; k <= extra; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr char32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMinimum[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += extra + 1;
  return cp;
}

uint32_t Mix(uint32_t hash, uint32_t unit) { return (hash ^ unit) * kFnvPrime; }

}  // namespace

uint32_t Fnv1a32(std::string_view utf8) {
  uint32_t hash = kFnvOffset;
  for (size_t i = 0; i < utf8.size();) {
    const char32_t cp = NextCodePoint(utf8, i);
    if (cp < 0x10000) {
      hash = Mix(hash, cp);
    } else {
      const char32_t v = cp - 0x10000;
      hash = Mix(hash, 0xD800 + (v >> 10));
      hash = Mix(hash, 0xDC00 + (v & 0x3FF));
    }
  }
  return hash;
}

double HashV2(std::string_view seed, std::string_view value) {
  std::string joined;
  joined.reserve(seed.size() + value.size());
  joined.append(seed).append(value);
  const uint32_t inner = Fnv1a32(joined);
  return static_cast<double>(Fnv1a32(std::to_string(inner)) % 10000) / 10000;
}

Result<Assignment> Assignment::Create(AssignmentConfig config) {
  if (config.weights.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "an assignment needs at least one arm");
  }
  if (!(config.coverage >= 0 && config.coverage <= 1)) {
    return MakeError(ErrorCode::kInvalidArgument, "coverage must be in [0, 1], got {}",
                     config.coverage);
  }
  double sum = 0;
  for (size_t i = 0; i < config.weights.size(); ++i) {
    const double w = config.weights[i];
    if (!(w > 0) || !std::isfinite(w)) {
      return MakeError(ErrorCode::kInvalidArgument, "arm {} has weight {}; weights must be > 0", i,
                       w);
    }
    sum += w;
  }
  std::vector<Range> ranges;
  double start = 0;
  for (const double w : config.weights) {
    ranges.push_back({start, start + config.coverage * w / sum});
    start += w / sum;
  }
  return Assignment(std::move(config.salt), std::move(ranges));
}

std::optional<size_t> Assignment::ArmFor(std::string_view unit_key) const {
  if (unit_key.empty()) return std::nullopt;
  const double n = HashV2(salt_, unit_key);
  for (size_t i = 0; i < ranges_.size(); ++i) {
    if (n >= ranges_[i].start && n < ranges_[i].end) return i;
  }
  return std::nullopt;
}

}  // namespace falaj::abtest
