#include "data/value_parsing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace falaj::data {
namespace {

int64_t Micros(int year, unsigned month, unsigned day, int hour = 0, int minute = 0,
               int second = 0) {
  using namespace std::chrono;
  sys_days date =
      year_month_day{std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)};
  return duration_cast<microseconds>(date.time_since_epoch() + hours(hour) + minutes(minute) +
                                     seconds(second))
      .count();
}

TEST(ValueParsing, IntegersRejectGarbageAndOverflow) {
  EXPECT_EQ(ParseInt64("42"), 42);
  EXPECT_EQ(ParseInt64(" -7 "), -7);
  EXPECT_EQ(ParseInt64("+5"), 5);
  EXPECT_FALSE(ParseInt64("4.2"));
  EXPECT_FALSE(ParseInt64("12abc"));
  EXPECT_FALSE(ParseInt64(""));
  EXPECT_FALSE(ParseInt64("99999999999999999999"));
}

TEST(ValueParsing, FloatsIncludingSpecialValues) {
  EXPECT_DOUBLE_EQ(*ParseFloat64("2.5e3"), 2500.0);
  EXPECT_TRUE(std::isnan(*ParseFloat64("nan")));
  EXPECT_TRUE(std::isinf(*ParseFloat64("-inf")));
  EXPECT_FALSE(ParseFloat64("1.2.3"));
  EXPECT_FALSE(ParseFloat64("abc"));
}

TEST(ValueParsing, Booleans) {
  EXPECT_EQ(ParseBool("TRUE"), true);
  EXPECT_EQ(ParseBool("0"), false);
  EXPECT_EQ(ParseBool("False"), false);
  EXPECT_FALSE(ParseBool("yes please"));
}

TEST(ValueParsing, TimestampsAgreeWithTheCalendar) {
  EXPECT_EQ(ParseTimestampMicros("1970-01-01"), 0);
  EXPECT_EQ(ParseTimestampMicros("2024-02-29T13:45:10Z"), Micros(2024, 2, 29, 13, 45, 10));
  EXPECT_EQ(ParseTimestampMicros("2024-02-29 13:45"), Micros(2024, 2, 29, 13, 45));
  EXPECT_EQ(ParseTimestampMicros("2024-03-01T04:00:00+04:00"), Micros(2024, 3, 1));
  EXPECT_EQ(ParseTimestampMicros("1969-12-31T23:59:59.5Z"), -500000);
  EXPECT_EQ(ParseTimestampMicros("2026-11-24T06:00:00.123456789Z"),
            Micros(2026, 11, 24, 6) + 123456);
}

TEST(ValueParsing, TimestampsRejectImpossibleDates) {
  for (const char* text : {"2023-02-29", "2024-13-01", "2024-01-32", "2024-01-01T24:00",
                           "2024-01-01T10:60", "2024-01-01Tjunk", "2024-1-1", "yesterday",
                           "2024-01-01T10:00:00+25:00", "2024-01-01T10:00:00.Z"}) {
    EXPECT_FALSE(ParseTimestampMicros(text)) << text;
  }
}

}  // namespace
}  // namespace falaj::data
