#include "security/api_keys.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/encoding.h"
#include "security/audit_log.h"

namespace falaj::security {
namespace {

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_keys_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(ApiKeyService::Migrations()));
    ASSERT_TRUE(store_->Migrate(AuditLog::Migrations()));
    keys_ = std::make_unique<ApiKeyService>(*store_);
  }
  void TearDown() override {
    keys_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<ApiKeyService> keys_;
};

TEST_F(ApiKeysTest, CreatedKeyAuthenticatesAndOnlyItsHashIsStored) {
  auto created = keys_->Create("ci", "viewer");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->plaintext.starts_with("fk_"));
  EXPECT_GE(created->plaintext.size(), 40u);
  auto principal = keys_->Authenticate(created->plaintext);
  ASSERT_TRUE(principal);
  EXPECT_EQ(principal->role, "viewer");
  EXPECT_EQ(principal->name, "ci");

  ASSERT_TRUE(store_->RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query("SELECT hash FROM api_keys");
        EXPECT_EQ(rows->size(), 1u);
        EXPECT_EQ(rows->at(0).Text(0), Sha256Hex(created->plaintext));
        auto leaked = tx.Query("SELECT COUNT(*) FROM api_keys WHERE hash = ? OR name = ?",
                               {created->plaintext, created->plaintext});
        EXPECT_EQ(leaked->at(0).Int(0), 0);
        return Ok();
      }));
}

TEST_F(ApiKeysTest, WrongKeysAreRefusedAlike) {
  auto created = keys_->Create("ci", "admin");
  ASSERT_TRUE(created);
  std::string near_miss = created->plaintext;
  near_miss.back() = near_miss.back() == 'A' ? 'B' : 'A';
  for (const std::string& wrong :
       {std::string(), near_miss, std::string("fk_nonsense"), std::string(100000, 'x')}) {
    auto refused = keys_->Authenticate(wrong);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(refused.error().message, "invalid API key");
  }
  EXPECT_FALSE(keys_->Create("x", "root"));
}

TEST_F(ApiKeysTest, BootstrapCreatesOnlyOnEmptyTable) {
  auto first = keys_->Bootstrap("");
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ(keys_->Authenticate((*first)->plaintext)->role, "admin");
  auto second = keys_->Bootstrap("");
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->has_value());
}

TEST_F(ApiKeysTest, BootstrapUsesConfiguredKeyAndRejectsShortOnes) {
  EXPECT_FALSE(keys_->Bootstrap("short"));
  std::string configured = "automation-key-0123456789abcdef";
  auto created = keys_->Bootstrap(configured);
  ASSERT_TRUE(created && created->has_value());
  EXPECT_EQ((*created)->plaintext, configured);
  EXPECT_TRUE(keys_->Authenticate(configured));
}

TEST_F(ApiKeysTest, AuditLogKeepsNewestFirst) {
  AuditLog audit(*store_);
  ASSERT_TRUE(audit.Append({1, "r1", "key:a", "projects.write", "POST", "/p", 201}));
  ASSERT_TRUE(audit.Append({2, "r2", "anonymous", "projects.read", "GET", "/p", 401}));
  auto recent = audit.Recent(10);
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ(recent->at(0).request_id, "r2");
  EXPECT_EQ(recent->at(0).status, 401);
  EXPECT_EQ(recent->at(1).principal, "key:a");
}

}  // namespace
}  // namespace falaj::security
