#include "registry/model_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/encoding.h"

namespace falaj::registry {
namespace {

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_registry_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(ModelRegistry::Migrations()));
    auto key = security::SigningKey::Generate();
    ASSERT_TRUE(key);
    key_ = std::make_unique<security::SigningKey>(std::move(*key));
    blob_uri_ = "file://" + (directory_ / "blobs").string();
    registry_ = std::make_unique<ModelRegistry>(
        *store_, [this](std::string_view) { return storage::OpenBlobStore(blob_uri_); }, *key_);
    ASSERT_TRUE(registry_->CreateModel({"bank", "fraud", "cards", {{"team", "risk"}}, "k", 0, 0}));
  }
  void TearDown() override {
    registry_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  std::string Upload(std::string_view content) {
    auto blobs = storage::OpenBlobStore(blob_uri_);
    auto digest = (*blobs)->Put(content);
    EXPECT_TRUE(digest);
    return *digest;
  }
  Result<ModelVersion> Register(std::vector<ArtifactFile> files, std::string format = "xgboost") {
    NewVersion version;
    version.format = std::move(format);
    version.files = std::move(files);
    version.metrics = {{"auc", 0.91}};
    version.lineage = {{"run_id", "r1"}};
    version.created_by = "key:k";
    return registry_->RegisterVersion("bank", "fraud", std::move(version));
  }

  std::filesystem::path directory_;
  std::string blob_uri_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<security::SigningKey> key_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(ModelRegistryTest, VersionsAreNumberedSignedAndVerifiable) {
  std::string model = Upload(R"({"learner": {}})");
  std::string extra = Upload("feature list");
  auto first = Register({{"model.json", model, 0}, {"meta/features.txt", extra, 0}});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->status, "registered");
  EXPECT_EQ(first->files[0].path, "meta/features.txt");  // sorted
  EXPECT_EQ(first->files[1].size, std::string(R"({"learner": {}})").size());
  EXPECT_EQ(first->signing_key_id, key_->KeyId());
  EXPECT_TRUE(security::VerifyEd25519(key_->PublicKeyRaw(), first->manifest,
                                      *HexDecode(first->manifest_signature)));
  auto second = Register({{"model.json", model, 0}});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->version, 2);
  auto report = registry_->Verify("bank", "fraud", 1);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(registry_->ListVersions("bank", "fraud")->size(), 2u);
  EXPECT_DOUBLE_EQ(registry_->GetVersion("bank", "fraud", 1)->metrics.at("auc"), 0.91);
}

TEST_F(ModelRegistryTest, TamperingIsDetected) {
  std::string model = Upload("model bytes");
  ASSERT_TRUE(Register({{"model.json", model, 0}}));
  // A forged manifest signature.
  ASSERT_TRUE(
      store_->RunTransaction(storage::TransactionMode::kReadWrite, [](storage::Transaction& tx) {
        // Changes the first byte, whatever it was.
        return tx.Run(
            "UPDATE model_versions SET manifest_signature = CASE "
            "WHEN substr(manifest_signature, 1, 2) = '00' THEN '11' "
            "ELSE '00' END || substr(manifest_signature, 3)");
      }));
  auto forged = registry_->Verify("bank", "fraud", 1);
  ASSERT_TRUE(forged);
  EXPECT_FALSE(forged->ok);
  EXPECT_NE(forged->reason.find("signature"), std::string::npos);

  // A corrupted artifact on disk.
  std::string digest = model;
  ASSERT_TRUE(Register({{"model.json", model, 0}}));
  auto path = directory_ / "blobs" / "sha256" / digest.substr(0, 2) / digest.substr(2);
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "model bytez";
  auto corrupt = registry_->Verify("bank", "fraud", 2);
  ASSERT_TRUE(corrupt);
  EXPECT_FALSE(corrupt->ok);
  EXPECT_NE(corrupt->reason.find("model.json"), std::string::npos) << corrupt->reason;
}

TEST_F(ModelRegistryTest, CodeExecutingFormatsAndPicklesAreRefused) {
  std::string pickle = Upload(std::string("\x80\x04\x95\x10\x00", 5));
  auto by_format = Register({{"model.pkl", pickle, 0}}, "pickle");
  ASSERT_FALSE(by_format);
  EXPECT_NE(by_format.error().message.find("executes code"), std::string::npos);
  auto by_content = Register({{"model.json", pickle, 0}});
  ASSERT_FALSE(by_content);
  EXPECT_NE(by_content.error().message.find("Python pickle"), std::string::npos);
  EXPECT_FALSE(Register({{"model.json", pickle, 0}}, "tensorflow-savedmodel"));
}

TEST_F(ModelRegistryTest, BadFilesAreRefusedByName) {
  std::string blob = Upload("x");
  for (const char* path : {"../etc/passwd", "/abs", "a//b", "a/./b", "", "sp ace"}) {
    auto refused = Register({{path, blob, 0}});
    ASSERT_FALSE(refused) << path;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument) << path;
  }
  auto missing = Register({{"model.json", std::string(64, 'a'), 0}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(Register({{"a", blob, 0}, {"a", blob, 0}}));
  EXPECT_FALSE(Register({}));
  EXPECT_EQ(
      registry_->RegisterVersion("bank", "nope", {"xgboost", {{"a", blob, 0}}, {}, {}, {}, {}, ""})
          .error()
          .code,
      ErrorCode::kNotFound);
}

TEST_F(ModelRegistryTest, AliasesMoveAtomicallyAndProtectVersions) {
  std::string blob = Upload("m");
  ASSERT_TRUE(Register({{"m", blob, 0}}));
  ASSERT_TRUE(Register({{"m", blob, 0}}));
  ASSERT_TRUE(registry_->SetAlias("bank", "fraud", "champion", 1));
  EXPECT_EQ(*registry_->ResolveAlias("bank", "fraud", "champion"), 1);
  ASSERT_TRUE(registry_->SetAlias("bank", "fraud", "champion", 2));
  EXPECT_EQ(*registry_->ResolveAlias("bank", "fraud", "champion"), 2);
  EXPECT_EQ(registry_->GetVersion("bank", "fraud", 2)->aliases,
            std::vector<std::string>{"champion"});
  EXPECT_EQ(registry_->SetAlias("bank", "fraud", "champion", 9).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*registry_->ResolveAlias("bank", "fraud", "champion"), 2);
  EXPECT_FALSE(registry_->SetAlias("bank", "fraud", "3", 1));
  EXPECT_EQ(registry_->DeleteVersion("bank", "fraud", 2).error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(registry_->DeleteVersion("bank", "fraud", 1));
  EXPECT_EQ(registry_->DeleteModel("bank", "fraud").error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(registry_->DeleteAlias("bank", "fraud", "champion"));
  ASSERT_TRUE(registry_->DeleteVersion("bank", "fraud", 2));
  EXPECT_TRUE(registry_->DeleteModel("bank", "fraud"));
}

TEST_F(ModelRegistryTest, StatusAndModelUpdates) {
  std::string blob = Upload("m");
  ASSERT_TRUE(Register({{"m", blob, 0}}));
  EXPECT_EQ(registry_->SetStatus("bank", "fraud", 1, "archived")->status, "archived");
  EXPECT_FALSE(registry_->SetStatus("bank", "fraud", 1, "deleted"));
  auto updated = registry_->UpdateModel("bank", "fraud", std::string("new"), std::nullopt);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->description, "new");
  EXPECT_EQ(updated->tags.at("team"), "risk");
  EXPECT_EQ(registry_->CreateModel({"bank", "fraud", "", {}, "", 0, 0}).error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_FALSE(registry_->CreateModel({"bank", "-bad", "", {}, "", 0, 0}));
  EXPECT_TRUE(registry_->CreateModel({"other", "fraud", "", {}, "", 0, 0}));  // per project
  EXPECT_EQ(registry_->ListModels("bank")->size(), 1u);
}

}  // namespace
}  // namespace falaj::registry
