// Every statistic against scipy: tests/reference/abtest_vectors.py computes the reference values
// independently (scipy.stats distributions and tests, the formulas written again in Python, FNV-1a
// over Python's UTF-16 encoding) when this test runs, and each value must agree to 1e-9 relative.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "abtest/assignment.h"
#include "abtest/sequential.h"
#include "abtest/statistics.h"
#include "common/distributions.h"

namespace falaj::abtest {
namespace {

namespace fs = std::filesystem;

constexpr double kTolerance = 1e-9;

struct Case {
  std::string kind;
  std::vector<std::string> fields;
  double operator[](size_t i) const { return std::stod(fields.at(i)); }
};

// Runs the scipy script once for the whole binary.
const std::vector<Case>& Vectors() {
  static const std::vector<Case> cases = [] {
    const fs::path out =
        fs::temp_directory_path() / ("falaj_abtest_vectors_" + std::to_string(::getpid()));
    const std::string command = std::string(FALAJ_TEST_PYTHON) + " " + FALAJ_SOURCE_DIR +
                                "/tests/reference/abtest_vectors.py " + out.string();
    std::vector<Case> parsed;
    if (std::system(command.c_str()) != 0) return parsed;
    std::ifstream in(out);
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      Case c;
      words >> c.kind;
      for (std::string w; words >> w;) c.fields.push_back(w);
      parsed.push_back(std::move(c));
    }
    fs::remove(out);
    return parsed;
  }();
  return cases;
}

std::vector<Case> OfKind(const std::string& kind) {
  std::vector<Case> out;
  for (const Case& c : Vectors()) {
    if (c.kind == kind) out.push_back(c);
  }
  EXPECT_FALSE(out.empty()) << "no '" << kind << "' vectors; did " << FALAJ_TEST_PYTHON
                            << " run tests/reference/abtest_vectors.py?";
  return out;
}

// Relative agreement; `scale` bounds the denominator from below for values that are a
// difference of larger terms (an interval end near 0 is judged against the half-width).
::testing::AssertionResult Close(double actual, double expected, double scale = 0) {
  if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
  const double denominator = std::fmax(std::fabs(expected), scale);
  if (actual == expected || std::fabs(actual - expected) <= kTolerance * denominator) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "actual " << actual << " expected " << expected << " (relative error "
         << std::fabs(actual - expected) / denominator << ")";
}

std::string Line(const Case& c) {
  std::string s = c.kind;
  for (const auto& f : c.fields) s += " " + f;
  return s;
}

TEST(ReferenceVectors, NormalDistribution) {
  for (const Case& c : OfKind("norm_cdf")) {
    EXPECT_TRUE(Close(NormalCdf(c[0]), c[1])) << Line(c);
    EXPECT_TRUE(Close(NormalSf(-c[0]), c[1])) << Line(c);
  }
  for (const Case& c : OfKind("norm_ppf")) {
    EXPECT_TRUE(Close(NormalQuantile(c[0]), c[1])) << Line(c);
  }
}

TEST(ReferenceVectors, StudentT) {
  for (const Case& c : OfKind("t_sf")) {
    EXPECT_TRUE(Close(StudentTSf(c[0], c[1]), c[2])) << Line(c);
  }
  for (const Case& c : OfKind("t_ppf")) {
    EXPECT_TRUE(Close(StudentTQuantile(c[0], c[1]), c[2])) << Line(c);
  }
}

TEST(ReferenceVectors, ChiSquare) {
  for (const Case& c : OfKind("chi2_sf")) {
    EXPECT_TRUE(Close(ChiSquareSf(c[0], c[1]), c[2])) << Line(c);
  }
}

void ExpectTest(const TestResult& r, const Case& c, size_t first, bool has_df) {
  size_t i = first;
  EXPECT_TRUE(Close(r.statistic, c[i++], 1e-12)) << Line(c);
  if (has_df) {
    EXPECT_TRUE(Close(r.degrees_of_freedom, c[i++])) << Line(c);
  }
  EXPECT_TRUE(Close(r.p_value, c[i++])) << Line(c);
  const double half = (r.absolute.ci.upper - r.absolute.ci.lower) / 2;
  EXPECT_TRUE(Close(r.absolute.ci.lower, c[i++], half)) << Line(c);
  EXPECT_TRUE(Close(r.absolute.ci.upper, c[i++], half)) << Line(c);
  if (std::isnan(c[i])) {
    EXPECT_FALSE(r.relative.has_value()) << Line(c);
    return;
  }
  ASSERT_TRUE(r.relative.has_value()) << Line(c);
  const double rel_half = (r.relative->ci.upper - r.relative->ci.lower) / 2;
  EXPECT_TRUE(Close(r.relative->value, c[i++], 1e-12)) << Line(c);
  EXPECT_TRUE(Close(r.relative->ci.lower, c[i++], rel_half)) << Line(c);
  EXPECT_TRUE(Close(r.relative->ci.upper, c[i++], rel_half)) << Line(c);
}

TEST(ReferenceVectors, TwoProportionZTest) {
  for (const Case& c : OfKind("ztest")) {
    const auto r =
        TwoProportionZTest({static_cast<int64_t>(c[1]), static_cast<int64_t>(c[0])},
                           {static_cast<int64_t>(c[3]), static_cast<int64_t>(c[2])}, c[4]);
    ASSERT_TRUE(r) << Line(c) << ": " << r.error().message;
    ExpectTest(*r, c, 5, false);
  }
}

TEST(ReferenceVectors, WelchTTest) {
  for (const Case& c : OfKind("welch")) {
    const auto r = WelchTTest({static_cast<int64_t>(c[2]), c[0], c[1]},
                              {static_cast<int64_t>(c[5]), c[3], c[4]}, c[6]);
    ASSERT_TRUE(r) << Line(c) << ": " << r.error().message;
    ExpectTest(*r, c, 7, true);
  }
}

TEST(ReferenceVectors, SampleRatioMismatch) {
  for (const Case& c : OfKind("srm")) {
    const size_t k = static_cast<size_t>(c[0]);
    std::vector<int64_t> units;
    std::vector<double> weights;
    for (size_t i = 0; i < k; ++i) units.push_back(static_cast<int64_t>(c[1 + i]));
    for (size_t i = 0; i < k; ++i) weights.push_back(c[1 + k + i]);
    const auto r = SampleRatioMismatch(units, weights);
    ASSERT_TRUE(r) << Line(c) << ": " << r.error().message;
    EXPECT_TRUE(Close(r->chi_square, c[1 + 2 * k])) << Line(c);
    EXPECT_TRUE(Close(r->p_value, c[2 + 2 * k])) << Line(c);
    EXPECT_EQ(r->mismatch, c[2 + 2 * k] < kSrmThreshold && units[0] >= kSrmMinUnitsPerArm &&
                               units[1] >= kSrmMinUnitsPerArm)
        << Line(c);
  }
}

TEST(ReferenceVectors, MinimumSampleSize) {
  for (const Case& c : OfKind("size_prop")) {
    const auto r = MinimumSampleSizeForProportions(c[0], c[1], c[2], c[3]);
    ASSERT_TRUE(r) << Line(c);
    EXPECT_TRUE(Close(r->exact, c[4])) << Line(c);
    EXPECT_EQ(r->units_per_arm, static_cast<int64_t>(std::ceil(c[4]))) << Line(c);
  }
  for (const Case& c : OfKind("size_mean")) {
    const auto r = MinimumSampleSizeForMeans(c[0], c[1], c[2], c[3]);
    ASSERT_TRUE(r) << Line(c);
    EXPECT_TRUE(Close(r->exact, c[4])) << Line(c);
    EXPECT_EQ(r->units_per_arm, static_cast<int64_t>(std::ceil(c[4]))) << Line(c);
  }
}

TEST(ReferenceVectors, ConfidenceSequenceHalfWidth) {
  for (const Case& c : OfKind("cs_half")) {
    const auto r = ConfidenceSequenceHalfWidth(c[0], c[1], {.alpha = c[2], .tuning_units = c[3]});
    ASSERT_TRUE(r) << Line(c);
    EXPECT_TRUE(Close(*r, c[4])) << Line(c);
  }
}

std::string FromHex(const std::string& hex) {
  if (hex == "-") return "";
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(ReferenceVectors, GrowthBookHashV2) {
  for (const Case& c : OfKind("hash")) {
    const std::string seed = FromHex(c.fields[0]);
    const std::string value = FromHex(c.fields[1]);
    EXPECT_EQ(Fnv1a32(value), static_cast<uint32_t>(c[2])) << Line(c);
    EXPECT_EQ(HashV2(seed, value), c[3]) << Line(c);
  }
}

}  // namespace
}  // namespace falaj::abtest
