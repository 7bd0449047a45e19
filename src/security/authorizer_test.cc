#include "security/authorizer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "security/roles.h"

namespace falaj::security {
namespace {

TEST(RolesTest, EachRoleGrantsWhatItShouldAndNothingElse) {
  EXPECT_TRUE(RoleGrants("viewer", "models.read"));
  EXPECT_FALSE(RoleGrants("viewer", "models.write"));
  EXPECT_FALSE(RoleGrants("viewer", "audit.read"));
  EXPECT_TRUE(RoleGrants("developer", "models.write"));
  EXPECT_FALSE(RoleGrants("developer", "endpoints.write"));
  EXPECT_TRUE(RoleGrants("deployer", "endpoints.write"));
  EXPECT_FALSE(RoleGrants("deployer", "members.admin"));
  EXPECT_TRUE(RoleGrants("auditor", "audit.read"));
  EXPECT_FALSE(RoleGrants("auditor", "models.write"));
  EXPECT_TRUE(RoleGrants("admin", "members.admin"));
  EXPECT_TRUE(RoleGrants("admin", "projects.delete"));
  EXPECT_FALSE(RoleGrants("root", "models.read"));
  EXPECT_FALSE(RoleGrants("admin", ""));
  EXPECT_TRUE(IsProjectRole("auditor"));
  EXPECT_FALSE(IsProjectRole("platform-admin"));
  EXPECT_EQ(ProjectRoles().size(), 5u);
}

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ =
        std::filesystem::temp_directory_path() / ("falaj_authz_" + std::to_string(::getpid()));
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(RoleBindingService::Migrations()));
    bindings_ = std::make_unique<RoleBindingService>(*store_);
    authorizer_ = std::make_unique<Authorizer>(*bindings_);
  }
  void TearDown() override {
    authorizer_.reset();
    bindings_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  bool Allowed(const Principal& principal, std::string_view permission, std::string_view project) {
    auto allowed = authorizer_->IsAllowed(principal, permission, project);
    EXPECT_TRUE(allowed);
    return allowed && *allowed;
  }
  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<RoleBindingService> bindings_;
  std::unique_ptr<Authorizer> authorizer_;
};

TEST_F(AuthorizerTest, BindingsScopesAndGroupsDecide) {
  Principal admin{"key:a", "a", true, "", {}};
  Principal alice{"user:alice", "alice", false, "", {"group:risk"}};
  Principal scoped{"key:s", "s", false, "beta", {}};
  ASSERT_TRUE(bindings_->Set("alpha", "user:alice", "developer"));
  ASSERT_TRUE(bindings_->Set("beta", "group:risk", "viewer"));
  ASSERT_TRUE(bindings_->Set("alpha", "key:s", "admin"));
  ASSERT_TRUE(bindings_->Set("beta", "key:s", "viewer"));

  EXPECT_TRUE(Allowed(admin, "projects.create", ""));
  EXPECT_TRUE(Allowed(admin, "models.write", "anything"));
  EXPECT_FALSE(Allowed(alice, "projects.create", ""));
  EXPECT_TRUE(Allowed(alice, "projects.list", ""));
  EXPECT_TRUE(Allowed(alice, "models.write", "alpha"));
  EXPECT_TRUE(Allowed(alice, "models.read", "beta"));    // through her group
  EXPECT_FALSE(Allowed(alice, "models.write", "beta"));  // group is only a viewer there
  EXPECT_FALSE(Allowed(alice, "models.read", "gamma"));  // no role at all
  // A key scoped to beta cannot use its admin binding in alpha.
  EXPECT_FALSE(Allowed(scoped, "models.read", "alpha"));
  EXPECT_TRUE(Allowed(scoped, "models.read", "beta"));
}

TEST_F(AuthorizerTest, BindingsValidateAndReplace) {
  EXPECT_EQ(bindings_->Set("p", "nobody", "viewer").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bindings_->Set("p", "user:x", "owner").error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(bindings_->Set("p", "user:has space", "viewer"));
  ASSERT_TRUE(bindings_->Set("p", "user:x", "viewer"));
  ASSERT_TRUE(bindings_->Set("p", "user:x", "admin"));
  auto listed = bindings_->List("p");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).role, "admin");
  ASSERT_TRUE(bindings_->Remove("p", "user:x"));
  EXPECT_EQ(bindings_->Remove("p", "user:x").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace falaj::security
