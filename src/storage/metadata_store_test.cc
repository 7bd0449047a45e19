#include "storage/metadata_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace falaj::storage {
namespace {

class MetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_metadata_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    uri_ = "sqlite://" + (directory_ / "nested" / "falaj.db").string();
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  void Reopen() {
    store_.reset();
    auto opened = OpenMetadataStore(uri_, 4);
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->Migrate(kItems));
  }
  int64_t Count() {
    int64_t count = -1;
    EXPECT_TRUE(store_->RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
      auto rows = tx.Query("SELECT COUNT(*) FROM items");
      if (!rows) return std::unexpected(rows.error());
      count = rows->at(0).Int(0);
      return Ok();
    }));
    return count;
  }

  inline static const MigrationSet kItems{
      "test_items",
      {{1, "create items", "CREATE TABLE items (name TEXT PRIMARY KEY, size BIGINT NOT NULL)"},
       {2, "add weight",
        "ALTER TABLE items ADD COLUMN weight DOUBLE PRECISION; "
        "CREATE INDEX items_size ON items (size)"}}};
  std::filesystem::path directory_;
  std::string uri_;
  std::unique_ptr<MetadataStore> store_;
};

TEST_F(MetadataStoreTest, MigrationsApplyOnceAndInOrder) {
  EXPECT_EQ(*store_->SchemaVersion("test_items"), 2);
  Reopen();  // re-running must be a no-op, not a "table exists" failure
  EXPECT_EQ(*store_->SchemaVersion("test_items"), 2);
  EXPECT_EQ(*store_->SchemaVersion("other"), 0);
}

TEST_F(MetadataStoreTest, FailedMigrationIsReportedAndNotRecorded) {
  MigrationSet broken{"broken", {{1, "bad sql", "CREATE TABLE (nonsense"}}};
  auto migrated = store_->Migrate(broken);
  ASSERT_FALSE(migrated);
  EXPECT_NE(migrated.error().message.find("migration broken v1 (bad sql) failed"),
            std::string::npos);
  EXPECT_EQ(*store_->SchemaVersion("broken"), 0);
}

TEST_F(MetadataStoreTest, CommitRollbackAndTypedRows) {
  ASSERT_TRUE(store_->RunTransaction(TransactionMode::kReadWrite, [](Transaction& tx) {
    return tx.Run("INSERT INTO items (name, size, weight) VALUES (?, ?, ?)",
                  {std::string("a"), int64_t{1} << 40, 2.5});
  }));
  auto failed = store_->RunTransaction(TransactionMode::kReadWrite, [](Transaction& tx) -> Status {
    FALAJ_RETURN_IF_ERROR(tx.Run("INSERT INTO items (name, size) VALUES ('b', 2)"));
    return MakeError(ErrorCode::kInternal, "changed my mind");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "changed my mind");
  EXPECT_EQ(Count(), 1);
  ASSERT_TRUE(store_->RunTransaction(TransactionMode::kReadOnly, [](Transaction& tx) -> Status {
    auto rows = tx.Query("SELECT name, size, weight, NULL FROM items");
    EXPECT_TRUE(rows);
    EXPECT_EQ(rows->at(0).Text(0), "a");
    EXPECT_EQ(rows->at(0).Int(1), int64_t{1} << 40);
    EXPECT_DOUBLE_EQ(rows->at(0).Real(2), 2.5);
    EXPECT_TRUE(rows->at(0).IsNull(3));
    return Ok();
  }));
}

TEST_F(MetadataStoreTest, ConstraintViolationsMapToErrorCodes) {
  auto insert = [&](const char* name) {
    return store_->RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) {
      return tx.Run("INSERT INTO items (name, size) VALUES (?, 1)", {std::string(name)});
    });
  };
  ASSERT_TRUE(insert("x"));
  auto duplicate = insert("x");
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, ErrorCode::kAlreadyExists);
  auto not_null = store_->RunTransaction(TransactionMode::kReadWrite, [](Transaction& tx) {
    return tx.Run("INSERT INTO items (name, size) VALUES ('y', NULL)");
  });
  ASSERT_FALSE(not_null);
  EXPECT_EQ(not_null.error().code, ErrorCode::kFailedPrecondition);
  auto bad_sql = store_->RunTransaction(TransactionMode::kReadOnly,
                                        [](Transaction& tx) { return tx.Run("SELEKT 1"); });
  ASSERT_FALSE(bad_sql);
  EXPECT_EQ(bad_sql.error().code, ErrorCode::kInternal);
  auto wrong_arity = store_->RunTransaction(TransactionMode::kReadOnly,
                                            [](Transaction& tx) { return tx.Run("SELECT ?", {}); });
  EXPECT_FALSE(wrong_arity);
}

TEST_F(MetadataStoreTest, ConcurrentWritersAllCommit) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto done = store_->RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) {
          return tx.Run("INSERT INTO items (name, size) VALUES (?, ?)",
                        {std::to_string(t) + "-" + std::to_string(i), int64_t{i}});
        });
        if (!done) failures++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(), kThreads * kPerThread);
  Reopen();
  EXPECT_EQ(Count(), kThreads * kPerThread);
}

TEST(OpenMetadataStoreTest, RefusesUnknownSchemesAndMemory) {
  auto unknown = OpenMetadataStore("mysql://x", 1);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("'mysql' is not supported"), std::string::npos);
  EXPECT_FALSE(OpenMetadataStore("no-scheme", 1));
  EXPECT_FALSE(OpenMetadataStore("sqlite://:memory:", 1));
}

}  // namespace
}  // namespace falaj::storage
