// ArtifactIndex and LoggedModelStore on SQLite: path validation, listing one level, directory
// deletes, file/directory conflicts, projects kept apart, and logged model lifecycles.
#include "tracking/artifact_index.h"

#include <gtest/gtest.h>

#include <vector>

#include "tracking/logged_models.h"
#include "tracking/tracking_store_fixture.h"

namespace falaj::tracking {
namespace {

class ArtifactIndexTest : public TrackingStoreFixture {
 protected:
  std::vector<const storage::MigrationSet*> ExtraMigrations() const override {
    return {&ArtifactIndex::Migrations(), &LoggedModelStore::Migrations()};
  }
  void SetUp() override {
    TrackingStoreFixture::SetUp();
    index_ = std::make_unique<ArtifactIndex>(*metadata_);
    models_ = std::make_unique<LoggedModelStore>(*metadata_);
  }
  void TearDown() override {
    index_.reset();
    models_.reset();
    TrackingStoreFixture::TearDown();
  }

  std::unique_ptr<ArtifactIndex> index_;
  std::unique_ptr<LoggedModelStore> models_;
};

const std::string kDigest(64, 'a');
const std::string kOther(64, 'b');

TEST_F(ArtifactIndexTest, RefusesHostilePaths) {
  const std::vector<std::string> hostile = {
      "",     "/etc/passwd",          "a/../b", "..", "a/./b", "a//b", "a/",
      "a\\b", std::string("a\0b", 3), "a\nb"};
  for (const auto& bad : hostile) {
    auto refused = ArtifactIndex::ValidatePath(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(ArtifactIndex::ValidatePath(std::string(1025, 'a')));
  EXPECT_TRUE(ArtifactIndex::ValidatePath("1/abc/artifacts/model dir/MLmodel"));
  EXPECT_TRUE(ArtifactIndex::ValidatePath("a/..b/c..d"));
}

TEST_F(ArtifactIndexTest, ListsOneLevelAndDeletesDirectories) {
  ASSERT_TRUE(index_->Put("p", "1/r/artifacts/a.txt", kDigest, 5));
  ASSERT_TRUE(index_->Put("p", "1/r/artifacts/model/MLmodel", kDigest, 7));
  ASSERT_TRUE(index_->Put("p", "1/r/artifacts/model/model.ubj", kOther, 9));
  // "model0" and "model.txt" start like "model": they are not children of "model".
  ASSERT_TRUE(index_->Put("p", "1/r/artifacts/model0", kOther, 1));
  ASSERT_TRUE(index_->Put("p", "1/r/artifacts/model.txt", kOther, 1));
  auto listing = index_->List("p", "1/r/artifacts");
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->size(), 4u);
  EXPECT_EQ((*listing)[0].name, "a.txt");
  EXPECT_EQ((*listing)[0].size, 5u);
  EXPECT_EQ((*listing)[1].name, "model");
  EXPECT_TRUE((*listing)[1].is_dir);
  EXPECT_EQ((*listing)[2].name, "model.txt");
  EXPECT_EQ((*listing)[3].name, "model0");
  EXPECT_EQ(index_->FilesUnder("p", "1/r/artifacts/model")->size(), 2u);
  // A file where a directory is, is refused.
  auto conflict = index_->Put("p", "1/r/artifacts/model", kDigest, 1);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(*index_->Delete("p", "1/r/artifacts/model"), 2);
  EXPECT_TRUE(index_->Get("p", "1/r/artifacts/model0"));
  EXPECT_TRUE(index_->Get("p", "1/r/artifacts/model.txt"));
  EXPECT_EQ(index_->Get("p", "1/r/artifacts/model/MLmodel").error().code, ErrorCode::kNotFound);
}

TEST_F(ArtifactIndexTest, RewritesReplaceAndProjectsAreApart) {
  ASSERT_TRUE(index_->Put("p", "f.bin", kDigest, 5));
  ASSERT_TRUE(index_->Put("p", "f.bin", kOther, 6));
  auto entry = index_->Get("p", "f.bin");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->sha256, kOther);
  EXPECT_EQ(entry->size, 6u);
  EXPECT_EQ(index_->Get("q", "f.bin").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(index_->List("q", "")->empty());
}

TEST_F(ArtifactIndexTest, LoggedModelsLiveAndDie) {
  LoggedModel model;
  model.project = "p";
  model.experiment_id = "3";
  model.name = "model";
  model.source_run_id = "r1";
  auto created = models_->Create(model, "mlflow-artifacts:/3");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->model_id.size(), 34u);
  EXPECT_EQ(created->artifact_location,
            "mlflow-artifacts:/3/models/" + created->model_id + "/artifacts");
  EXPECT_EQ(created->status, "PENDING");
  EXPECT_FALSE(models_->Finalize("p", created->model_id, "DONE"));
  EXPECT_EQ(models_->Finalize("p", created->model_id, "READY")->status, "READY");
  ASSERT_TRUE(models_->SetTags("p", created->model_id, {{"k", "v"}}));
  ASSERT_TRUE(models_->LogParams("p", created->model_id, {{"depth", "3"}}));
  auto loaded = models_->Get("p", created->model_id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->tags.at("k"), "v");
  EXPECT_EQ(loaded->params.at("depth"), "3");
  EXPECT_EQ(models_->Get("q", created->model_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(models_->Search("p", {"3"}, 10, "")->models.size(), 1u);
  EXPECT_TRUE(models_->Search("p", {"4"}, 10, "")->models.empty());
  EXPECT_EQ(models_->DeleteTag("p", created->model_id, "nope").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(models_->LogOutput("p", "r1", created->model_id, 0));
  ASSERT_TRUE(models_->Delete("p", created->model_id));
  EXPECT_EQ(models_->Delete("p", created->model_id).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace falaj::tracking
