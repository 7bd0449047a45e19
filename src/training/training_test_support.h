// For training tests: real stores in a temporary directory (SQLite metadata, file blobs, a fresh
// signing key) with datasets, sources, the feature registry and training-set builder, tracking,
// the model registry and a TrainingService over them. Test-only; not thread-safe.
#pragma once

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "features/training_sets.h"
#include "training/training_service.h"

namespace falaj::training {

class TrainingStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_training_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    for (const auto* set :
         {&data::DatasetStore::Migrations(), &data::SourceStore::Migrations(),
          &features::FeatureRegistry::Migrations(), &tracking::TrackingStore::Migrations(),
          &registry::ModelRegistry::Migrations()}) {
      ASSERT_TRUE(store_->Migrate(*set));
    }
    auto key = security::SigningKey::Generate();
    ASSERT_TRUE(key);
    key_ = std::make_unique<security::SigningKey>(std::move(*key));
    blob_uri_ = "file://" + (directory_ / "blobs").string();
    auto blobs = [this](std::string_view) { return storage::OpenBlobStore(blob_uri_); };
    datasets_ = std::make_unique<data::DatasetStore>(
        *store_, blobs, [](std::string_view) -> Result<std::string> { return "eu"; });
    sources_ = std::make_unique<data::SourceStore>(*store_);
    features_ = std::make_unique<features::FeatureRegistry>(*store_, *sources_);
    training_sets_ =
        std::make_unique<features::TrainingSetBuilder>(*features_, *sources_, *datasets_);
    tracking_ = std::make_unique<tracking::TrackingStore>(*store_);
    registry_ = std::make_unique<registry::ModelRegistry>(*store_, blobs, *key_);
    service_ = std::make_unique<TrainingService>(*datasets_, features_.get(), training_sets_.get(),
                                                 *tracking_, *registry_, blobs);
  }
  void TearDown() override {
    service_.reset();
    registry_.reset();
    tracking_.reset();
    training_sets_.reset();
    features_.reset();
    sources_.reset();
    datasets_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }

  // Adds `table` as the next version of dataset `name` in project "p".
  void AddDataset(const std::string& name, const arrow::Table& table) {
    auto schema = data::SchemaFromArrow(*table.schema());
    ASSERT_TRUE(schema) << schema.error().message;
    data::NewDatasetVersion version;
    version.schema = *schema;
    auto added = datasets_->AddVersion("p", name, table, version);
    ASSERT_TRUE(added) << added.error().message;
  }

  std::filesystem::path directory_;
  std::string blob_uri_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<security::SigningKey> key_;
  std::unique_ptr<data::DatasetStore> datasets_;
  std::unique_ptr<data::SourceStore> sources_;
  std::unique_ptr<features::FeatureRegistry> features_;
  std::unique_ptr<features::TrainingSetBuilder> training_sets_;
  std::unique_ptr<tracking::TrackingStore> tracking_;
  std::unique_ptr<registry::ModelRegistry> registry_;
  std::unique_ptr<TrainingService> service_;
  NullTaskContext context_;
};

}  // namespace falaj::training
