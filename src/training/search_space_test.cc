#include "training/search_space.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "training/random_search.h"

namespace falaj::training {
namespace {

using nlohmann::json;

constexpr int kSamples = 20000;
// Chi-square critical values at p = 0.001 for the degrees of freedom used below: a correct
// sampler fails one check in a thousand seeds, and the seed is fixed.
constexpr double kChiSquare19 = 43.82;
constexpr double kChiSquare8 = 26.12;
constexpr double kChiSquare3 = 16.27;
// Kolmogorov–Smirnov critical value at p = 0.001 is 1.95 / sqrt(n).
constexpr double kKs = 1.95;

SearchSpace Parse(const json& space) {
  auto parsed = SearchSpace::Parse(space);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return *parsed;
}

std::vector<json> Draw(const SearchSpace& space, const std::string& name, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::vector<json> values;
  for (int i = 0; i < kSamples; ++i) values.push_back(space.Sample(rng)[name]);
  return values;
}

// Pearson's statistic of `counts` against `probabilities` (same length, summing to 1).
double ChiSquare(const std::vector<int>& counts, const std::vector<double>& probabilities) {
  double total = 0;
  for (int count : counts) total += count;
  double statistic = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double expected = total * probabilities[i];
    statistic += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return statistic;
}

// sqrt(n) times the largest gap between the empirical CDF of `sample` and `cdf`.
double ScaledKs(std::vector<double> sample, const std::function<double(double)>& cdf) {
  std::sort(sample.begin(), sample.end());
  double largest = 0;
  const double n = static_cast<double>(sample.size());
  for (size_t i = 0; i < sample.size(); ++i) {
    const double f = cdf(sample[i]);
    largest = std::max({largest, std::abs(f - i / n), std::abs((i + 1) / n - f)});
  }
  return largest * std::sqrt(n);
}

TEST(SearchSpaceTest, UniformIsUniformWithinItsBounds) {
  auto values = Draw(Parse({{"x", {{"type", "uniform"}, {"low", -2.0}, {"high", 3.0}}}}), "x");
  std::vector<int> bins(20);
  std::vector<double> xs;
  for (const auto& value : values) {
    const double x = value.get<double>();
    ASSERT_GE(x, -2.0);
    ASSERT_LT(x, 3.0);
    ++bins[static_cast<size_t>((x + 2.0) / 5.0 * 20)];
    xs.push_back(x);
  }
  EXPECT_LT(ChiSquare(bins, std::vector<double>(20, 1.0 / 20)), kChiSquare19);
  EXPECT_LT(ScaledKs(xs, [](double x) { return (x + 2.0) / 5.0; }), kKs);
  // And a wrong reference must be rejected, or the checks above prove nothing.
  EXPECT_GT(ScaledKs(xs, [](double x) { return std::pow((x + 2.0) / 5.0, 1.2); }), kKs);
}

TEST(SearchSpaceTest, LogUniformHasAUniformLogarithm) {
  auto values =
      Draw(Parse({{"eta", {{"type", "loguniform"}, {"low", 1e-4}, {"high", 1.0}}}}), "eta");
  std::vector<int> bins(20);
  std::vector<double> logs;
  const double log_low = std::log(1e-4), span = -log_low;
  for (const auto& value : values) {
    const double x = value.get<double>();
    ASSERT_GE(x, 1e-4);
    ASSERT_LT(x, 1.0);
    const double position = (std::log(x) - log_low) / span;
    ++bins[std::min<size_t>(19, static_cast<size_t>(position * 20))];
    logs.push_back(std::log(x));
  }
  EXPECT_LT(ChiSquare(bins, std::vector<double>(20, 1.0 / 20)), kChiSquare19);
  EXPECT_LT(ScaledKs(logs, [&](double l) { return (l - log_low) / span; }), kKs);
  // Most of the mass sits in the lower decades, unlike a uniform on [1e-4, 1).
  const auto small = std::count_if(values.begin(), values.end(),
                                   [](const json& v) { return v.get<double>() < 0.1; });
  EXPECT_NEAR(static_cast<double>(small) / kSamples, 0.75, 0.02);
}

TEST(SearchSpaceTest, IntegersAreUniformAndInclusive) {
  auto values = Draw(Parse({{"depth", {{"type", "int"}, {"low", 2}, {"high", 10}}}}), "depth");
  std::vector<int> counts(9);
  for (const auto& value : values) {
    ASSERT_TRUE(value.is_number_integer());
    const auto k = value.get<int64_t>();
    ASSERT_GE(k, 2);
    ASSERT_LE(k, 10);
    ++counts[static_cast<size_t>(k - 2)];
  }
  EXPECT_GT(counts.front(), 0);
  EXPECT_GT(counts.back(), 0);
  EXPECT_LT(ChiSquare(counts, std::vector<double>(9, 1.0 / 9)), kChiSquare8);
}

TEST(SearchSpaceTest, LogIntegersFollowTheFlooredLogUniform) {
  auto values = Draw(Parse({{"leaves", {{"type", "int"}, {"low", 1}, {"high", 4}, {"log", true}}}}),
                     "leaves");
  std::vector<int> counts(4);
  for (const auto& value : values) ++counts[static_cast<size_t>(value.get<int64_t>() - 1)];
  // P(k) = log((k + 1) / k) / log((high + 1) / low).
  std::vector<double> expected;
  for (int k = 1; k <= 4; ++k) expected.push_back(std::log((k + 1.0) / k) / std::log(5.0));
  EXPECT_LT(ChiSquare(counts, expected), kChiSquare3);
  EXPECT_GT(ChiSquare(counts, std::vector<double>(4, 0.25)), kChiSquare3);  // not uniform
}

TEST(SearchSpaceTest, CategoricalPicksEveryValueEquallyAndKeepsItsJson) {
  const json choices = {"gbtree", 3, json{{"a", 1}}, nullptr};
  auto values = Draw(Parse({{"c", {{"type", "categorical"}, {"values", choices}}}}), "c");
  std::vector<int> counts(4);
  for (const auto& value : values) {
    auto found = std::find(choices.begin(), choices.end(), value);
    ASSERT_NE(found, choices.end()) << value.dump();
    ++counts[static_cast<size_t>(found - choices.begin())];
  }
  EXPECT_LT(ChiSquare(counts, std::vector<double>(4, 0.25)), kChiSquare3);
}

TEST(SearchSpaceTest, SamplingIsReproducibleAndPerTrial) {
  SearchSpace space = Parse({{"a", {{"type", "uniform"}, {"low", 0}, {"high", 1}}},
                             {"b", {{"type", "int"}, {"low", 0}, {"high", 1000000}}}});
  RandomSampler sampler(space, 42);
  // Trial 5 gets the same parameters whenever it is asked for, in any order.
  const json fifth = sampler.SampleTrial(5);
  for (int trial = 1; trial <= 4; ++trial) (void)sampler.SampleTrial(trial);
  EXPECT_EQ(sampler.SampleTrial(5), fifth);
  EXPECT_EQ(RandomSampler(space, 42).SampleTrial(5), fifth);
  EXPECT_NE(RandomSampler(space, 43).SampleTrial(5), fifth);
  EXPECT_NE(sampler.SampleTrial(6), fifth);
  // Adding a parameter that sorts after the others does not change their draws.
  SearchSpace wider = Parse({{"a", {{"type", "uniform"}, {"low", 0}, {"high", 1}}},
                             {"b", {{"type", "int"}, {"low", 0}, {"high", 1000000}}},
                             {"c", {{"type", "categorical"}, {"values", {1, 2}}}}});
  const json widened = RandomSampler(wider, 42).SampleTrial(5);
  EXPECT_EQ(widened["a"], fifth["a"]);
  EXPECT_EQ(widened["b"], fifth["b"]);
}

TEST(SearchSpaceTest, BadSpacesNameTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array(), "'space'"},
      {json::object(), "'space'"},
      {{{"x", 3}}, "'space.x'"},
      {{{"x", {{"low", 0}}}}, "'space.x.type'"},
      {{{"x", {{"type", "normal"}}}}, "'space.x.type'"},
      {{{"x", {{"type", "uniform"}, {"high", 1}}}}, "'space.x.low'"},
      {{{"x", {{"type", "uniform"}, {"low", 0}, {"high", "1"}}}}, "'space.x.high'"},
      {{{"x", {{"type", "uniform"}, {"low", 1}, {"high", 1}}}}, "'space.x.low'"},
      {{{"x", {{"type", "loguniform"}, {"low", 0}, {"high", 1}}}}, "'space.x.low'"},
      {{{"x", {{"type", "int"}, {"low", 0.5}, {"high", 3}}}}, "'space.x.low'"},
      {{{"x", {{"type", "int"}, {"low", 0}, {"high", 3}, {"log", true}}}}, "'space.x.low'"},
      {{{"x", {{"type", "int"}, {"low", 1}, {"high", 3}, {"log", "yes"}}}}, "'space.x.log'"},
      {{{"x", {{"type", "uniform"}, {"low", 0}, {"high", 1}, {"log", true}}}}, "'space.x.log'"},
      {{{"x", {{"type", "categorical"}, {"values", json::array()}}}}, "'space.x.values'"},
      {{{"x", {{"type", "categorical"}, {"values", 3}}}}, "'space.x.values'"},
  };
  for (const auto& [space, field] : cases) {
    auto parsed = SearchSpace::Parse(space);
    ASSERT_FALSE(parsed) << space.dump();
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(field), std::string::npos)
        << space.dump() << ": " << parsed.error().message;
  }
  // A one-value integer range is legal and always yields that value.
  SearchSpace single = Parse({{"n", {{"type", "int"}, {"low", 4}, {"high", 4}}}});
  std::mt19937_64 rng(1);
  EXPECT_EQ(single.Sample(rng)["n"], 4);
}

}  // namespace
}  // namespace falaj::training
