#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "serving/model_runtime.h"

namespace falaj::serving {
namespace {

Result<std::vector<float>> PredictRows(const LoadedModel& model, std::vector<float> features,
                                       size_t rows) {
  std::vector<float> outputs(rows * model.num_outputs());
  FALAJ_RETURN_IF_ERROR(model.Predict(features, rows, outputs));
  return outputs;
}

TEST(LinearRuntimeTest, PredictsLinearAndLogisticAgainstHandComputedValues) {
  auto linear =
      LoadModel("linear", "", R"({"kind":"linear","coefficients":[2,-1],"intercept":0.5})");
  ASSERT_TRUE(linear) << linear.error().message;
  EXPECT_EQ((*linear)->runtime(), "linear");
  auto out = PredictRows(**linear, {1, 2, 3, 0.5}, 2);
  ASSERT_TRUE(out);
  EXPECT_FLOAT_EQ((*out)[0], 2 * 1 - 2 + 0.5);
  EXPECT_FLOAT_EQ((*out)[1], 2 * 3 - 0.5 + 0.5);

  auto logistic =
      LoadModel("linear", "auto", R"({"kind":"logistic","coefficients":[1],"intercept":-1})");
  ASSERT_TRUE(logistic);
  auto probability = PredictRows(**logistic, {3}, 1);
  ASSERT_TRUE(probability);
  EXPECT_FLOAT_EQ((*probability)[0], 1.0 / (1.0 + std::exp(-2.0)));
}

TEST(LinearRuntimeTest, BadArtifactsAndInputsAreRefused) {
  for (const char* artifact : {"", "[]", R"({"kind":"tree","coefficients":[1],"intercept":0})",
                               R"({"kind":"linear","coefficients":[],"intercept":0})",
                               R"({"kind":"linear","coefficients":["a"],"intercept":0})",
                               R"({"kind":"linear","coefficients":[1]})"}) {
    auto loaded = LoadModel("linear", "", artifact);
    ASSERT_FALSE(loaded) << artifact;
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument) << artifact;
  }
  auto model = LoadModel("linear", "", R"({"kind":"linear","coefficients":[1,1],"intercept":0})");
  ASSERT_TRUE(model);
  EXPECT_FALSE(PredictRows(**model, {1, 2, 3}, 2));
  EXPECT_FALSE(PredictRows(**model, {1, NAN}, 1));
  EXPECT_FALSE(PredictRows(**model, {1, INFINITY}, 1));
  EXPECT_EQ(LoadModel("onnx", "", "{}").error().code, ErrorCode::kUnimplemented);
  EXPECT_EQ(LoadModel("linear", "trees", "{}").error().code, ErrorCode::kUnimplemented);
}

}  // namespace
}  // namespace falaj::serving
