#include "cli/model_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace falaj::cli {
namespace {

namespace fs = std::filesystem;

class ModelFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("falaj-model-files-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }

  std::string Read(const fs::path& path) { return *ReadLocalFile(path); }

  fs::path root_;
};

TEST_F(ModelFilesTest, FolderIsWalkedRecursivelySkippingLinks) {
  fs::path model = root_ / "model";
  Write(model / "model.ubj", "weights");
  Write(model / "meta" / "deep" / "features.csv", "a,b");
  Write(root_ / "outside.txt", "secret");
  fs::create_directory_symlink(root_, model / "loop");
  fs::create_symlink(root_ / "outside.txt", model / "leak.txt");

  auto found = CollectModelFiles(model);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->files.size(), 2u);
  EXPECT_EQ(found->files[0].path, "meta/deep/features.csv");
  EXPECT_EQ(found->files[0].size, 3u);
  EXPECT_EQ(found->files[1].path, "model.ubj");
  EXPECT_EQ(Read(found->files[1].source), "weights");
  EXPECT_EQ(found->skipped_links.size(), 2u);
}

TEST_F(ModelFilesTest, OneFileIsNamedByItsFileName) {
  Write(root_ / "m.onnx", "onnx");
  auto found = CollectModelFiles(root_ / "m.onnx");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->files.size(), 1u);
  EXPECT_EQ(found->files[0].path, "m.onnx");
}

TEST_F(ModelFilesTest, RefusesWhatTheRegistryWouldRefuse) {
  EXPECT_FALSE(CollectModelFiles(root_ / "absent"));
  EXPECT_FALSE(CollectModelFiles(root_));  // empty folder
  Write(root_ / "empty" / "zero.bin", "");
  auto empty = CollectModelFiles(root_ / "empty");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);
  Write(root_ / "spaced" / "my model.bin", "x");
  EXPECT_FALSE(CollectModelFiles(root_ / "spaced"));
}

TEST_F(ModelFilesTest, RefusesMoreThanTheMostFilesOfAVersion) {
  for (size_t i = 0; i <= kMaxModelFiles; ++i) {
    Write(root_ / "many" / ("f" + std::to_string(i)), "x");
  }
  auto many = CollectModelFiles(root_ / "many");
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(many.error().message.find("1000"), std::string::npos);
  fs::remove(root_ / "many" / "f0");
  EXPECT_TRUE(CollectModelFiles(root_ / "many"));
}

TEST_F(ModelFilesTest, WritesNestedFilesAndReplacesOldOnes) {
  ASSERT_TRUE(WriteUnder(root_, "a/b/c.bin", std::string("\0\xff", 2)));
  EXPECT_EQ(Read(root_ / "a" / "b" / "c.bin"), std::string("\0\xff", 2));
  ASSERT_TRUE(WriteUnder(root_, "a/b/c.bin", "new"));
  EXPECT_EQ(Read(root_ / "a" / "b" / "c.bin"), "new");
}

TEST_F(ModelFilesTest, NeverWritesOutsideTheFolder) {
  fs::path folder = root_ / "out";
  fs::create_directories(folder);
  for (const char* path : {"../escape", "/tmp/abs", "a/../../escape", "./x", "a//b", "", "a/"}) {
    EXPECT_FALSE(WriteUnder(folder, path, "x")) << path;
  }
  EXPECT_FALSE(fs::exists(root_ / "escape"));
  fs::create_directories(root_ / "elsewhere");
  fs::create_directory_symlink(root_ / "elsewhere", folder / "linked");
  EXPECT_FALSE(WriteUnder(folder, "linked/x", "x"));
  fs::create_symlink(root_ / "elsewhere" / "target", folder / "file-link");
  EXPECT_FALSE(WriteUnder(folder, "file-link", "x"));
  EXPECT_TRUE(fs::is_empty(root_ / "elsewhere"));
}

}  // namespace
}  // namespace falaj::cli
