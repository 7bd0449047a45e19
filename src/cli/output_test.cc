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

TEST(OutputTest, ObjectRendersAsAlignedFields) {
  nlohmann::json report = {{"ok", false}, {"entries", 3}, {"reason", "entry 2 was modified"}};
  EXPECT_EQ(RenderObject(report, {"ok", "entries", "reason", "absent"}, OutputFormat::kTable),
            "ok       false\n"
            "entries  3\n"
            "reason   entry 2 was modified\n"
            "absent\n");
  EXPECT_EQ(nlohmann::json::parse(RenderObject(report, {"ok"}, OutputFormat::kJson)), report);
  EXPECT_EQ(YAML::Load(RenderObject(report, {}, OutputFormat::kYaml))["entries"].as<int>(), 3);
}

}  // namespace
}  // namespace falaj::cli
