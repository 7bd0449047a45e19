#include "security/api_keys.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/encoding.h"
#include "security/role_bindings.h"

namespace falaj::security {
namespace {

// A clock the test moves by hand.
class ManualClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return now; }
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

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
    ASSERT_TRUE(store_->Migrate(RoleBindingService::Migrations()));
    keys_ = std::make_unique<ApiKeyService>(*store_, clock_);
    bindings_ = std::make_unique<RoleBindingService>(*store_);
  }
  void TearDown() override {
    keys_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  std::filesystem::path directory_;
  ManualClock clock_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<ApiKeyService> keys_;
  std::unique_ptr<RoleBindingService> bindings_;
};

TEST_F(ApiKeysTest, KeysHaveAPrefixAChecksumAndOnlyTheirHashIsStored) {
  auto created = keys_->Create({"ci", false, "fraud", 0, "key:admin"});
  ASSERT_TRUE(created) << created.error().message;
  const std::string& key = created->plaintext;
  EXPECT_TRUE(key.starts_with("flj_"));
  EXPECT_EQ(key.size(), 4u + 43u + 6u);
  EXPECT_TRUE(ApiKeyService::HasValidFormat(key));
  std::string typo = key;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(ApiKeyService::HasValidFormat(typo));

  auto principal = keys_->Authenticate(key);
  ASSERT_TRUE(principal);
  EXPECT_EQ(principal->subject, "key:" + created->info.id);
  EXPECT_EQ(principal->scope_project, "fraud");
  EXPECT_FALSE(principal->platform_admin);

  ASSERT_TRUE(store_->RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query("SELECT hash FROM api_keys");
        EXPECT_EQ(rows->size(), 1u);
        EXPECT_EQ(rows->at(0).Text(0), Sha256Hex(key));
        auto leaked =
            tx.Query("SELECT COUNT(*) FROM api_keys WHERE hash = ? OR name = ?", {key, key});
        EXPECT_EQ(leaked->at(0).Int(0), 0);
        return Ok();
      }));
}

TEST_F(ApiKeysTest, WrongKeysAreRefusedAlike) {
  auto created = keys_->Create({"ci", true, "", 0, ""});
  ASSERT_TRUE(created);
  std::string near_miss = created->plaintext;
  near_miss[8] = near_miss[8] == 'A' ? 'B' : 'A';
  for (const std::string& wrong : {std::string(), near_miss, std::string("flj_nonsense"),
                                   std::string(100000, 'x'), std::string("some-other-secret")}) {
    auto refused = keys_->Authenticate(wrong);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(refused.error().message, "invalid API key");
  }
  EXPECT_FALSE(keys_->Create({"", false, "", 0, ""}));
  EXPECT_FALSE(keys_->Create({std::string(129, 'n'), false, "", 0, ""}));
}

TEST_F(ApiKeysTest, ExpiredAndRevokedKeysAreRefused) {
  int64_t now = ToUnixMillis(clock_.now);
  EXPECT_FALSE(keys_->Create({"past", false, "", now - 1, ""}));
  auto expiring = keys_->Create({"soon", false, "", now + 60'000, ""});
  auto revoked = keys_->Create({"gone", false, "", 0, ""});
  ASSERT_TRUE(expiring && revoked);
  EXPECT_TRUE(keys_->Authenticate(expiring->plaintext));
  ASSERT_TRUE(keys_->Revoke(revoked->info.id, ""));
  EXPECT_FALSE(keys_->Authenticate(revoked->plaintext));
  clock_.now += std::chrono::minutes(2);
  EXPECT_FALSE(keys_->Authenticate(expiring->plaintext));
  EXPECT_EQ(keys_->Get(revoked->info.id, "")->revoked_at_ms, now);
}

TEST_F(ApiKeysTest, LastUsedIsRecordedAtMinuteResolution) {
  auto created = keys_->Create({"ci", false, "", 0, ""});
  ASSERT_TRUE(created);
  EXPECT_EQ(keys_->Get(created->info.id, "")->last_used_at_ms, 0);
  ASSERT_TRUE(keys_->Authenticate(created->plaintext));
  int64_t first = keys_->Get(created->info.id, "")->last_used_at_ms;
  EXPECT_EQ(first, ToUnixMillis(clock_.now));
  clock_.now += std::chrono::seconds(10);
  ASSERT_TRUE(keys_->Authenticate(created->plaintext));
  EXPECT_EQ(keys_->Get(created->info.id, "")->last_used_at_ms, first);
  clock_.now += std::chrono::minutes(1);
  ASSERT_TRUE(keys_->Authenticate(created->plaintext));
  EXPECT_EQ(keys_->Get(created->info.id, "")->last_used_at_ms, ToUnixMillis(clock_.now));
}

TEST_F(ApiKeysTest, RotationOverlapsAndCarriesRoles) {
  auto old = keys_->Create({"svc", false, "fraud", 0, ""});
  ASSERT_TRUE(old);
  ASSERT_TRUE(bindings_->Set("fraud", old->info.subject(), "deployer"));
  auto rotated = keys_->Rotate(old->info.id, "fraud", 3600);
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_NE(rotated->plaintext, old->plaintext);
  EXPECT_EQ(rotated->info.project, "fraud");
  EXPECT_EQ(*bindings_->RolesOf("fraud", {rotated->info.subject()}),
            std::vector<std::string>{"deployer"});
  EXPECT_TRUE(keys_->Authenticate(old->plaintext));
  clock_.now += std::chrono::hours(2);
  EXPECT_FALSE(keys_->Authenticate(old->plaintext));
  EXPECT_TRUE(keys_->Authenticate(rotated->plaintext));
  EXPECT_EQ(keys_->Rotate(old->info.id, "other", 0).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(keys_->Rotate(rotated->info.id, "fraud", -1));
}

TEST_F(ApiKeysTest, ProjectScopeHidesOtherProjectsKeys) {
  auto key = keys_->Create({"a", false, "alpha", 0, ""});
  ASSERT_TRUE(key);
  EXPECT_TRUE(keys_->Get(key->info.id, "alpha"));
  EXPECT_EQ(keys_->Get(key->info.id, "beta").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(keys_->Revoke(key->info.id, "beta").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(keys_->List("alpha")->size(), 1u);
  EXPECT_TRUE(keys_->List("")->empty());
  ASSERT_TRUE(store_->RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        EXPECT_EQ(*ApiKeyService::CountLiveInProject(tx, "alpha", ToUnixMillis(clock_.now)), 1);
        EXPECT_EQ(*ApiKeyService::CountLiveInProject(tx, "beta", ToUnixMillis(clock_.now)), 0);
        return Ok();
      }));
}

TEST_F(ApiKeysTest, BootstrapCreatesAPlatformAdminOnlyOnEmptyTable) {
  auto first = keys_->Bootstrap("");
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->has_value());
  EXPECT_TRUE(keys_->Authenticate((*first)->plaintext)->platform_admin);
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
  EXPECT_TRUE(keys_->Authenticate(configured)->platform_admin);
}

}  // namespace
}  // namespace falaj::security

namespace falaj::security {
namespace {

TEST_F(ApiKeysTest, CachedKeysStillHonourRevocationAndExpiry) {
  int64_t now = ToUnixMillis(clock_.now);
  auto key = keys_->Create({"cached", false, "", now + 5'000, ""});
  ASSERT_TRUE(key);
  ASSERT_TRUE(keys_->Authenticate(key->plaintext));  // now cached
  // Expiry inside the cache window is still enforced.
  clock_.now += std::chrono::seconds(6);
  EXPECT_FALSE(keys_->Authenticate(key->plaintext));

  auto other = keys_->Create({"revoked", false, "", 0, ""});
  ASSERT_TRUE(other);
  ASSERT_TRUE(keys_->Authenticate(other->plaintext));
  ASSERT_TRUE(keys_->Revoke(other->info.id, ""));
  EXPECT_FALSE(keys_->Authenticate(other->plaintext));  // revocation clears the cache at once

  // A key revoked behind the service's back (another process) is refused within the TTL.
  auto third = keys_->Create({"elsewhere", false, "", 0, ""});
  ASSERT_TRUE(third);
  ASSERT_TRUE(keys_->Authenticate(third->plaintext));
  ASSERT_TRUE(
      store_->RunTransaction(storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
        return tx.Run("UPDATE api_keys SET revoked_at_ms = 1 WHERE id = ?", {third->info.id});
      }));
  EXPECT_TRUE(keys_->Authenticate(third->plaintext));  // still cached
  clock_.now += ApiKeyService::kAuthenticationCacheTtl;
  EXPECT_FALSE(keys_->Authenticate(third->plaintext));
}

}  // namespace
}  // namespace falaj::security
