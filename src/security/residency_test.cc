#include "security/residency.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace falaj::security {
namespace {

class ResidencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ =
        std::filesystem::temp_directory_path() / ("falaj_residency_" + std::to_string(::getpid()));
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 1);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(ResidencyService::Migrations()));
    residency_ = std::make_unique<ResidencyService>(*store_);
  }
  void TearDown() override {
    residency_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  TransferDecision Check(std::string_view to, std::string_view data_class) {
    auto decision = residency_->CheckTransfer("bank", "uae-north", to, data_class);
    EXPECT_TRUE(decision) << decision.error().message;
    return decision ? *decision : TransferDecision{};
  }
  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<ResidencyService> residency_;
};

TEST_F(ResidencyTest, DeniedByDefaultAllowedByAPolicyWithItsBasis) {
  EXPECT_TRUE(Check("uae-north", "pii").allowed);
  TransferDecision denied = Check("eu-west", "");
  EXPECT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("no transfer policy"), std::string::npos);

  ASSERT_TRUE(residency_->SetPolicy({"bank", "eu-west", "pdpl-art22-adequacy", {"pii"}, "k", 0},
                                    "uae-north"));
  TransferDecision allowed = Check("eu-west", "pii");
  EXPECT_TRUE(allowed.allowed);
  EXPECT_EQ(allowed.legal_basis, "pdpl-art22-adequacy");
  EXPECT_TRUE(Check("eu-west", "").allowed);
  EXPECT_FALSE(Check("eu-west", "financial").allowed);  // not covered by the policy
  EXPECT_FALSE(Check("uae-central", "").allowed);       // a policy is per target region
}

TEST_F(ResidencyTest, RestrictedClassesNeverLeaveWhateverThePolicy) {
  ASSERT_TRUE(residency_->SetPolicy(
      {"bank", "eu-west", "pdpl-art23-consent", {"health", "pii"}, "k", 0}, "uae-north"));
  ASSERT_TRUE(residency_->SetRestrictedClasses("bank", {"health"}));
  TransferDecision health = Check("eu-west", "health");
  EXPECT_FALSE(health.allowed);
  EXPECT_NE(health.reason.find("may not leave"), std::string::npos);
  EXPECT_TRUE(Check("eu-west", "pii").allowed);
  EXPECT_EQ(*residency_->RestrictedClasses("bank"), std::vector<std::string>{"health"});
}

TEST_F(ResidencyTest, BadPoliciesAreRefused) {
  EXPECT_FALSE(residency_->SetPolicy({"bank", "eu-west", "because", {}, "k", 0}, "uae-north"));
  EXPECT_FALSE(
      residency_->SetPolicy({"bank", "uae-north", "regulator-approval", {}, "k", 0}, "uae-north"));
  EXPECT_FALSE(residency_->SetPolicy({"bank", "eu-west", "regulator-approval", {"secret"}, "k", 0},
                                     "uae-north"));
  EXPECT_FALSE(residency_->SetRestrictedClasses("bank", {"secret"}));
  EXPECT_FALSE(residency_->CheckTransfer("bank", "uae-north", "eu-west", "secret"));
  EXPECT_EQ(residency_->RemovePolicy("bank", "eu-west").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace falaj::security
