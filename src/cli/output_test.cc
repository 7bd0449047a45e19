#include "cli/output.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace falaj::cli {
namespace {

TEST(OutputTest, TableAlignsColumns) {
  std::string table = RenderTable({"name", "region"}, {{"a", "uae-north"}, {"longer", "x"}});
  EXPECT_EQ(table,
            "NAME    REGION\n"
            "a       uae-north\n"
            "longer  x\n");
}

TEST(OutputTest, ItemsRenderInEveryFormat) {
  nlohmann::json items = nlohmann::json::array(
      {{{"name", "p"}, {"labels", {{"a", "1"}, {"b", "2"}}}, {"region", "uae-north"}}});
  EXPECT_EQ(RenderItems(items, {"name", "labels"}, OutputFormat::kTable),
            "NAME  LABELS\np     a=1,b=2\n");
  EXPECT_EQ(nlohmann::json::parse(RenderItems(items, {"name"}, OutputFormat::kJson)), items);
  YAML::Node yaml = YAML::Load(RenderItems(items, {"name"}, OutputFormat::kYaml));
  EXPECT_EQ(yaml[0]["name"].as<std::string>(), "p");
  EXPECT_EQ(yaml[0]["labels"]["b"].as<std::string>(), "2");
}

}  // namespace
}  // namespace falaj::cli
