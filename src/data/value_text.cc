#include "data/value_text.h"

#include <fmt/format.h>

namespace falaj::data {
namespace {

// Length of the valid UTF-8 sequence at the start of `text`, or 0 if it is not one (overlong
// forms, surrogates and code points above U+10FFFF are invalid, as RFC 3629 says).
size_t ValidSequenceLength(std::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (length == 0 || lead > 0xF4 || lead == 0xC0 || lead == 0xC1 || text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  unsigned char second = byte(1);
  if (lead == 0xE0 && second < 0xA0) return 0;   // overlong
  if (lead == 0xED && second >= 0xA0) return 0;  // surrogate
  if (lead == 0xF0 && second < 0x90) return 0;   // overlong
  if (lead == 0xF4 && second >= 0x90) return 0;  // above U+10FFFF
  return length;
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

struct CivilDate {
  int64_t year = 1970;
  int month = 1;
  int day = 1;
};

// Howard Hinnant's days_from_civil inverse, in int64 so that every int64 timestamp has a date
// (std::chrono::year only reaches +-32767).
CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t day_of_era = days - era * 146097;
  int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  int64_t shifted_month = (5 * day_of_year + 2) / 153;
  CivilDate date;
  date.day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  date.month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  date.year = year_of_era + era * 400 + (date.month <= 2 ? 1 : 0);
  return date;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t length = ValidSequenceLength(text.substr(i));
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  size_t i = 0;
  while (i < text.size()) {
    size_t length = ValidSequenceLength(text.substr(i));
    std::string_view piece = length == 0 ? kReplacement : text.substr(i, length);
    if (out.size() + piece.size() > max_bytes) {
      out += "...";
      return out;
    }
    out += piece;
    i += length == 0 ? 1 : length;
  }
  return out;
}

std::string FormatIsoTimestamp(int64_t value, int64_t units_per_second) {
  if (units_per_second <= 0) units_per_second = 1;
  // Floor division, so that instants before 1970 get a non-negative fraction.
  int64_t seconds = value / units_per_second;
  int64_t fraction = value % units_per_second;
  if (fraction < 0) {
    fraction += units_per_second;
    seconds -= 1;
  }
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    days -= 1;
  }
  CivilDate date = CivilFromDays(days);
  std::string text = date.year >= 0 && date.year <= 9999
                         ? fmt::format("{:04}", date.year)
                         : fmt::format("{:+05}", date.year);  // ISO 8601's expanded year form
  text += fmt::format("-{:02}-{:02}T{:02}:{:02}:{:02}", date.month, date.day, second_of_day / 3600,
                      second_of_day / 60 % 60, second_of_day % 60);
  int digits = units_per_second == 1000         ? 3
               : units_per_second == 1000000    ? 6
               : units_per_second == 1000000000 ? 9
                                                : 0;
  if (digits > 0) text += fmt::format(".{:0{}}", fraction, digits);
  text += 'Z';
  return text;
}

}  // namespace falaj::data
