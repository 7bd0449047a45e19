// Checks every statistic against numpy/scipy, run at test time by tests/reference/
// drift_reference.py (an independent implementation on the same vectors), and the default test
// choice per column type and size.
#include "monitoring/drift_statistics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "monitoring/drift_tests.h"

namespace falaj::monitoring {
namespace {

using nlohmann::json;

struct NumericCase {
  std::string name;
  std::vector<double> ref;
  std::vector<double> cur;
};

struct CategoricalCase {
  std::string name;
  CategoryCounts ref;
  CategoryCounts cur;
};

std::vector<double> Normal(size_t n, double mean, double sd, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> dist(mean, sd);
  std::vector<double> values(n);
  for (double& v : values) v = dist(random);
  return values;
}

std::vector<double> Range(size_t n, double start) {
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = start + static_cast<double>(i);
  return values;
}

std::vector<NumericCase> NumericCases() {
  std::vector<NumericCase> cases;
  cases.push_back({"shifted normal, unequal n", Normal(500, 0, 1, 1), Normal(400, 0.3, 1, 2)});
  cases.push_back({"same distribution", Normal(300, 5, 2, 3), Normal(300, 5, 2, 4)});
  std::vector<double> same = Normal(300, 0, 1, 5);
  cases.push_back({"identical samples", same, same});
  cases.push_back({"disjoint, unequal n", Range(50, 0), Range(60, 1000)});
  cases.push_back({"disjoint, equal n", Range(40, 0), Range(40, 1000)});
  cases.push_back({"tiny samples", {1.0, 2.0, 3.0}, {2.5, 3.5, 4.5, 9.0}});
  cases.push_back({"single values", {1.0}, {2.0}});
  cases.push_back({"constant reference", std::vector<double>(100, 2.0), Normal(50, 2, 1, 6)});
  cases.push_back({"constant both", std::vector<double>(20, 7.0), std::vector<double>(30, 7.0)});
  // Bimodal reference with empty middle bins that the current sample fills.
  std::vector<double> bimodal = Normal(500, -10, 1, 7);
  for (double v : Normal(500, 10, 1, 8)) bimodal.push_back(v);
  cases.push_back({"empty reference bins", bimodal, Normal(800, 0, 3, 9)});
  cases.push_back({"power-of-two reference", Normal(1024, 0, 1, 10), Normal(700, 0.05, 1.1, 11)});
  cases.push_back({"ties", {1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 7}, {1, 2, 2, 3, 3, 3, 4, 4, 8}});
  // One current value of 20 000 above the range: a share <= 1e-4, so empty bins get share / 1e6.
  std::vector<double> spike(19999, 5.0);
  spike.push_back(1e9);
  cases.push_back({"tiny-share epsilon", Range(20000, 0), spike});
  cases.push_back({"large, asymptotic KS", Normal(20000, 0, 1, 12), Normal(15000, 0.02, 1, 13)});
  return cases;
}

std::vector<CategoricalCase> CategoricalCases() {
  return {
      {"shifted", {{"a", 50}, {"b", 30}, {"c", 20}}, {{"a", 30}, {"b", 30}, {"c", 40}}},
      {"identical", {{"x", 7}, {"y", 3}}, {{"x", 7}, {"y", 3}}},
      {"new category", {{"a", 10}, {"b", 10}}, {{"a", 5}, {"b", 5}, {"z", 1}}},
      {"vanished category", {{"a", 10}, {"b", 10}, {"c", 1}}, {{"a", 12}, {"b", 9}}},
      {"two categories", {{"no", 800}, {"yes", 200}}, {{"no", 700}, {"yes", 300}}},
      {"one category", {{"only", 20}}, {{"only", 30}}},
      {"large", {{"a", 500000}, {"b", 300000}, {"c", 1}}, {{"a", 400000}, {"b", 350000}}},
  };
}

double Number(const json& value) {
  if (value.is_string()) return std::stod(value.get<std::string>());
  return value.get<double>();
}

// 1e-9 relative, with an absolute floor for statistics that are zero up to rounding; p-values
// get no floor, so a tiny p must match to 1e-9 relative too.
void ExpectNear(double actual, double expected, const std::string& what, double floor = 1e-14) {
  if (std::isinf(expected)) {
    EXPECT_EQ(actual, expected) << what;
    return;
  }
  double tolerance = 1e-9 * std::max(std::abs(actual), std::abs(expected)) + floor;
  EXPECT_NEAR(actual, expected, tolerance) << what;
}

class DriftStatisticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir =
        std::filesystem::temp_directory_path() / ("falaj-drift-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    json cases = json::array();
    for (const auto& c : NumericCases()) {
      cases.push_back({{"kind", "numeric"}, {"ref", c.ref}, {"cur", c.cur}});
    }
    for (const auto& c : CategoricalCases()) {
      cases.push_back({{"kind", "categorical"}, {"ref", c.ref}, {"cur", c.cur}});
    }
    std::ofstream(dir / "in.json") << json{{"cases", cases}}.dump();
    std::string command = std::string(FALAJ_TEST_PYTHON) + " " + FALAJ_SOURCE_DIR +
                          "/tests/reference/drift_reference.py " + (dir / "in.json").string() +
                          " " + (dir / "out.json").string();
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::ifstream in(dir / "out.json");
    results_ = new json(json::parse(in)["results"]);
    std::filesystem::remove_all(dir);
  }
  static void TearDownTestSuite() { delete results_; }

  static json* results_;
};

json* DriftStatisticsTest::results_ = nullptr;

TEST_F(DriftStatisticsTest, NumericStatisticsMatchScipy) {
  auto cases = NumericCases();
  ASSERT_GE(results_->size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const json& want = (*results_)[i];
    SCOPED_TRACE(c.name);
    auto edges = SturgesBins(c.ref);
    ASSERT_TRUE(edges);
    EXPECT_EQ(edges->count, want["bins"].get<int>());
    ExpectNear(*Psi(c.ref, c.cur), Number(want["psi"]), "psi");
    ExpectNear(*JensenShannon(c.ref, c.cur), Number(want["js"]), "js");
    auto ks = KolmogorovSmirnov(c.ref, c.cur);
    ASSERT_TRUE(ks);
    ExpectNear(ks->statistic, Number(want["ks_statistic"]), "ks statistic");
    ExpectNear(ks->p_value, Number(want["ks_pvalue"]), "ks p-value", 0.0);
    ExpectNear(*Wasserstein1(c.ref, c.cur), Number(want["wasserstein"]), "wasserstein");
    ExpectNear(*NormedWasserstein(c.ref, c.cur), Number(want["normed_wasserstein"]), "normed");
  }
}

TEST_F(DriftStatisticsTest, CategoricalStatisticsMatchScipy) {
  auto numeric = NumericCases().size();
  auto cases = CategoricalCases();
  ASSERT_EQ(results_->size(), numeric + cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const json& want = (*results_)[numeric + i];
    SCOPED_TRACE(c.name);
    ExpectNear(*JensenShannon(c.ref, c.cur), Number(want["js"]), "js");
    auto chi = ChiSquare(c.ref, c.cur);
    ASSERT_TRUE(chi);
    if (c.ref.size() > 1 || c.cur.size() > 1) {
      ExpectNear(chi->statistic, Number(want["chi_statistic"]), "chi statistic");
      ExpectNear(chi->p_value, Number(want["chi_pvalue"]), "chi p-value", 0.0);
    }
    auto z = ZTest(c.ref, c.cur);
    ASSERT_TRUE(z);
    ExpectNear(z->statistic, Number(want["z_statistic"]), "z statistic");
    ExpectNear(z->p_value, Number(want["z_pvalue"]), "z p-value", 0.0);
  }
}

TEST(DriftStatistics, RejectsEmptyAndMismatchedInputs) {
  std::vector<double> empty;
  std::vector<double> some = {1.0, 2.0};
  EXPECT_FALSE(Psi(empty, some));
  EXPECT_FALSE(KolmogorovSmirnov(some, empty));
  EXPECT_FALSE(NormedWasserstein(empty, empty));
  std::vector<int64_t> a = {1, 2};
  std::vector<int64_t> b = {1, 2, 3};
  EXPECT_EQ(PsiFromCounts(a, b).error().code, ErrorCode::kInvalidArgument);
  std::vector<int64_t> zeros = {0, 0};
  EXPECT_FALSE(JensenShannonFromCounts(a, zeros));
}

TEST(DriftStatistics, KolmogorovSurvivalIsContinuousAcrossItsTwoSeries) {
  // Values of scipy.stats.kstwobign.sf.
  EXPECT_NEAR(KolmogorovSurvival(0.5), 0.9639452436648751, 1e-12);
  EXPECT_NEAR(KolmogorovSurvival(1.0), 0.26999967167735456, 1e-12);
  EXPECT_NEAR(KolmogorovSurvival(0.9999999), KolmogorovSurvival(1.0000001), 1e-6);
  EXPECT_EQ(KolmogorovSurvival(0.0), 1.0);
  EXPECT_LT(KolmogorovSurvival(5.0), 1e-20);
}

TEST(DriftStatistics, BinIndexPutsOutOfRangeValuesInTheOpenBins) {
  BinEdges edges{0.0, 10.0, 5};
  EXPECT_EQ(BinIndex(edges, -0.1), 0u);
  EXPECT_EQ(BinIndex(edges, 0.0), 1u);
  EXPECT_EQ(BinIndex(edges, 1.999), 1u);
  EXPECT_EQ(BinIndex(edges, 2.0), 2u);
  EXPECT_EQ(BinIndex(edges, 10.0), 5u);  // the last bin is closed
  EXPECT_EQ(BinIndex(edges, 10.1), 6u);
  EXPECT_EQ(BinIndex(edges, INFINITY), 6u);
  EXPECT_EQ(BinIndex(edges, -INFINITY), 0u);
}

TEST(DriftTests, NumericDefaultsFollowEvidently) {
  auto small = NumericDrift(Normal(500, 0, 1, 1), Normal(500, 1, 1, 2));
  ASSERT_TRUE(small);
  EXPECT_EQ(small->test, DriftTest::kKolmogorovSmirnov);
  EXPECT_TRUE(small->p_value.has_value());
  EXPECT_DOUBLE_EQ(small->threshold, 0.05);
  EXPECT_TRUE(small->drifted);

  auto same = NumericDrift(Normal(500, 0, 1, 3), Normal(500, 0, 1, 4));
  ASSERT_TRUE(same);
  EXPECT_FALSE(same->drifted);

  std::vector<double> three = {1, 2, 3, 1, 2, 3, 1, 2, 3};
  std::vector<double> skewed = {1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 3, 3};
  EXPECT_EQ(NumericDrift(three, skewed)->test, DriftTest::kChiSquare);
  std::vector<double> binary = {0, 1, 0, 1};
  EXPECT_EQ(NumericDrift(binary, binary)->test, DriftTest::kZ);
  EXPECT_FALSE(NumericDrift(binary, binary)->drifted);

  auto large = NumericDrift(Normal(5000, 0, 1, 5), Normal(5000, 0.5, 1, 6));
  ASSERT_TRUE(large);
  EXPECT_EQ(large->test, DriftTest::kWasserstein);
  EXPECT_FALSE(large->p_value.has_value());
  EXPECT_DOUBLE_EQ(large->threshold, 0.1);
  EXPECT_TRUE(large->drifted);  // mass moved ~0.5 reference standard deviations
  auto stable = NumericDrift(Normal(5000, 0, 1, 7), Normal(5000, 0.01, 1, 8));
  EXPECT_FALSE(stable->drifted);

  std::vector<double> levels;
  for (int i = 0; i < 2000; ++i) levels.push_back(i % 4);
  EXPECT_EQ(NumericDrift(levels, levels)->test, DriftTest::kJensenShannon);
  EXPECT_EQ(NumericDrift(levels, levels)->statistic, 0.0);

  std::vector<double> with_nan = {1.0, NAN};
  std::vector<double> fine = {1.0, 2.0};
  EXPECT_FALSE(NumericDrift(with_nan, fine));
}

TEST(DriftTests, CategoricalDefaultsFollowEvidently) {
  CategoryCounts ref = {{"a", 50}, {"b", 30}, {"c", 20}};
  CategoryCounts cur = {{"a", 20}, {"b", 30}, {"c", 50}};
  auto chi = CategoricalDrift(ref, cur);
  ASSERT_TRUE(chi);
  EXPECT_EQ(chi->test, DriftTest::kChiSquare);
  EXPECT_TRUE(chi->drifted);
  EXPECT_EQ(CategoricalDrift({{"y", 5}, {"n", 5}}, {{"y", 5}, {"n", 6}})->test, DriftTest::kZ);
  auto js = CategoricalDrift({{"a", 5000}, {"b", 5000}}, {{"a", 5000}, {"b", 5100}});
  EXPECT_EQ(js->test, DriftTest::kJensenShannon);
  EXPECT_FALSE(js->drifted);
  auto unseen = CategoricalDrift({{"a", 500}, {"b", 500}}, {{"a", 5}, {"new", 5}});
  EXPECT_TRUE(unseen->drifted);
  EXPECT_EQ(unseen->p_value, 0.0);
  EXPECT_FALSE(CategoricalDrift({}, cur));
  EXPECT_EQ(DriftTestName(DriftTest::kWasserstein), "wasserstein");
}

}  // namespace
}  // namespace falaj::monitoring
