#include "projects/project_service.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace falaj::projects {
namespace {

class ProjectServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_projects_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(ProjectService::Migrations()));
    service_ = std::make_unique<ProjectService>(
        *store_, std::vector<std::string>{"uae-north", "uae-central"});
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  static Project Named(std::string name) {
    Project project;
    project.name = std::move(name);
    project.region = "uae-north";
    return project;
  }
  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<ProjectService> service_;
};

TEST_F(ProjectServiceTest, CreateGetListUpdateDelete) {
  Project input = Named("fraud-detection");
  input.description = "cards";
  input.labels = {{"team", "risk"}};
  auto created = service_->Create(input);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GT(created->created_at_ms, 0);
  ASSERT_TRUE(service_->Create(Named("alpha")));

  auto fetched = service_->Get("fraud-detection");
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->labels.at("team"), "risk");
  EXPECT_EQ(fetched->region, "uae-north");

  auto listed = service_->List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->at(0).name, "alpha");

  ProjectUpdate update;
  update.description = "card fraud";
  auto updated = service_->Update("fraud-detection", update);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->description, "card fraud");
  EXPECT_EQ(updated->labels.at("team"), "risk");
  EXPECT_GE(updated->updated_at_ms, created->updated_at_ms);

  ASSERT_TRUE(service_->Delete("fraud-detection"));
  EXPECT_EQ(service_->Get("fraud-detection").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_->Delete("fraud-detection").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_->Update("nope", update).error().code, ErrorCode::kNotFound);
}

TEST_F(ProjectServiceTest, NamesMustBeDnsLabels) {
  for (const std::string& bad :
       {std::string(""), std::string("Upper"), std::string("-lead"), std::string("trail-"),
        std::string("under_score"), std::string("dot.ted"), std::string(64, 'a'),
        std::string("sp ace"), std::string("../etc")}) {
    auto created = service_->Create(Named(bad));
    ASSERT_FALSE(created) << bad;
    EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(service_->Create(Named(std::string(63, 'a'))));
  EXPECT_TRUE(service_->Create(Named("a")));
  EXPECT_TRUE(service_->Create(Named("0-9")));
}

TEST_F(ProjectServiceTest, RegionMustBeConfigured) {
  Project project = Named("p");
  project.region = "us-east";
  auto created = service_->Create(project);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().message, "region 'us-east' is not one of: uae-north, uae-central");
}

TEST_F(ProjectServiceTest, DuplicateNameIsAlreadyExists) {
  ASSERT_TRUE(service_->Create(Named("p")));
  auto again = service_->Create(Named("p"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(again.error().message, "project 'p' already exists");
}

TEST_F(ProjectServiceTest, LabelsAndDescriptionAreBounded) {
  Project project = Named("p");
  project.labels = {{"Bad Key", "v"}};
  EXPECT_FALSE(service_->Create(project));
  project.labels = {{"k", std::string(257, 'v')}};
  EXPECT_FALSE(service_->Create(project));
  project.labels.clear();
  project.description = std::string(4097, 'd');
  EXPECT_FALSE(service_->Create(project));
}

TEST_F(ProjectServiceTest, DeleteIsRefusedWhileTheProjectOwnsResources) {
  ASSERT_TRUE(
      store_->RunTransaction(storage::TransactionMode::kReadWrite, [](storage::Transaction& tx) {
        return tx.Run("CREATE TABLE models (project TEXT, name TEXT)");
      }));
  service_->RegisterOwnershipCheck(
      "models", [](storage::Transaction& tx, std::string_view project) -> Result<int64_t> {
        auto rows =
            tx.Query("SELECT COUNT(*) FROM models WHERE project = ?", {std::string(project)});
        if (!rows) return std::unexpected(rows.error());
        return rows->at(0).Int(0);
      });
  ASSERT_TRUE(service_->Create(Named("owner")));
  ASSERT_TRUE(store_->RunTransaction(
      storage::TransactionMode::kReadWrite,
      [](storage::Transaction& tx) { return tx.Run("INSERT INTO models VALUES ('owner', 'm')"); }));
  auto refused = service_->Delete("owner");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(refused.error().message, "project 'owner' still owns 1 models; delete them first");
  EXPECT_TRUE(service_->Get("owner"));
  ASSERT_TRUE(store_->RunTransaction(
      storage::TransactionMode::kReadWrite,
      [](storage::Transaction& tx) { return tx.Run("DELETE FROM models"); }));
  EXPECT_TRUE(service_->Delete("owner"));
}

}  // namespace
}  // namespace falaj::projects

namespace falaj::projects {
namespace {

TEST(ProjectResidencyTest, ProjectsOutsideTheStorageRegionAreRefused) {
  auto directory = std::filesystem::temp_directory_path() /
                   ("falaj_projects_residency_" + std::to_string(::getpid()));
  auto store = storage::OpenMetadataStore("sqlite://" + (directory / "m.db").string(), 1);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Migrate(ProjectService::Migrations()));
  ProjectService service(**store, {"uae-north", "eu-west"}, "uae-north");
  Project local{"local", "", "uae-north", {}, 0, 0};
  Project foreign{"foreign", "", "eu-west", {}, 0, 0};
  EXPECT_TRUE(service.Create(local));
  auto refused = service.Create(foreign);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("storage region 'uae-north'"), std::string::npos);
  store->reset();
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace falaj::projects
