// Test fixture: a TrackingStore over a fresh SQLite metadata store in a directory of its own
// (named after the test), migrated, and removed after the test. Fixtures of stores that live
// beside tracking (artifacts, logged models, tuning) derive from it and name their extra
// migrations. Test-only; single-threaded.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tracking/tracking_store.h"

namespace falaj::tracking {

class TrackingStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_tracking_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store);
    metadata_ = std::move(*store);
    ASSERT_TRUE(metadata_->Migrate(TrackingStore::Migrations()));
    for (const storage::MigrationSet* set : ExtraMigrations()) {
      ASSERT_TRUE(metadata_->Migrate(*set));
    }
    tracking_ = std::make_unique<TrackingStore>(*metadata_);
  }
  virtual std::vector<const storage::MigrationSet*> ExtraMigrations() const { return {}; }

  void TearDown() override {
    tracking_.reset();
    metadata_.reset();
    std::filesystem::remove_all(directory_);
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> metadata_;
  std::unique_ptr<TrackingStore> tracking_;
};

}  // namespace falaj::tracking
