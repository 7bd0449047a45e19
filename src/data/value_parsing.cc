#include "data/value_parsing.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace falaj::data {
namespace {

// Reads exactly `digits` decimal digits at `pos`, advancing it.
std::optional<int> FixedDigits(std::string_view text, size_t& pos, int digits) {
  if (pos + digits > text.size()) return std::nullopt;
  int value = 0;
  for (int i = 0; i < digits; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += digits;
  return value;
}

bool Consume(std::string_view text, size_t& pos, char expected) {
  if (pos < text.size() && text[pos] == expected) {
    ++pos;
    return true;
  }
  return false;
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int year, int month, int day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// Parses ".ffffff" (1–9 digits) into microseconds, truncating below a microsecond.
std::optional<int64_t> Fraction(std::string_view text, size_t& pos) {
  if (!Consume(text, pos, '.') && !Consume(text, pos, ',')) return 0;
  int64_t micros = 0;
  int digits = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    if (digits < 6) micros = micros * 10 + (text[pos] - '0');
    ++digits;
    ++pos;
  }
  if (digits == 0 || digits > 9) return std::nullopt;
  for (int i = digits; i < 6; ++i) micros *= 10;
  return micros;
}

// "Z", "+hh:mm", "+hhmm", "+hh" or nothing; returns the offset east of UTC in seconds.
std::optional<int64_t> Offset(std::string_view text, size_t& pos) {
  if (pos == text.size()) return 0;
  if (Consume(text, pos, 'Z') || Consume(text, pos, 'z')) return 0;
  int sign = 0;
  if (Consume(text, pos, '+')) sign = 1;
  if (sign == 0 && Consume(text, pos, '-')) sign = -1;
  if (sign == 0) return std::nullopt;
  auto hours = FixedDigits(text, pos, 2);
  if (!hours || *hours > 23) return std::nullopt;
  int minutes = 0;
  if (pos < text.size()) {
    Consume(text, pos, ':');
    auto parsed = FixedDigits(text, pos, 2);
    if (!parsed || *parsed > 59) return std::nullopt;
    minutes = *parsed;
  }
  return sign * (*hours * 3600 + minutes * 60);
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<int64_t> ParseInt64(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> ParseFloat64(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> ParseBool(std::string_view text) {
  text = Trim(text);
  if (text == "1" || EqualsIgnoringCase(text, "true")) return true;
  if (text == "0" || EqualsIgnoringCase(text, "false")) return false;
  return std::nullopt;
}

std::optional<int64_t> ParseTimestampMicros(std::string_view text) {
  text = Trim(text);
  size_t pos = 0;
  auto year = FixedDigits(text, pos, 4);
  if (!year || !Consume(text, pos, '-')) return std::nullopt;
  auto month = FixedDigits(text, pos, 2);
  if (!month || *month < 1 || *month > 12 || !Consume(text, pos, '-')) return std::nullopt;
  auto day = FixedDigits(text, pos, 2);
  if (!day || *day < 1 || *day > DaysInMonth(*year, *month)) return std::nullopt;
  int64_t seconds = DaysFromCivil(*year, *month, *day) * 86400;
  int64_t micros = 0;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    auto hour = FixedDigits(text, pos, 2);
    if (!hour || *hour > 23 || !Consume(text, pos, ':')) return std::nullopt;
    auto minute = FixedDigits(text, pos, 2);
    if (!minute || *minute > 59) return std::nullopt;
    int second = 0;
    if (Consume(text, pos, ':')) {
      auto parsed = FixedDigits(text, pos, 2);
      if (!parsed || *parsed > 59) return std::nullopt;
      second = *parsed;
      auto fraction = Fraction(text, pos);
      if (!fraction) return std::nullopt;
      micros = *fraction;
    }
    seconds += *hour * 3600 + *minute * 60 + second;
    auto offset = Offset(text, pos);
    if (!offset) return std::nullopt;
    seconds -= *offset;
  }
  if (pos != text.size()) return std::nullopt;
  return seconds * 1'000'000 + micros;
}

}  // namespace falaj::data
