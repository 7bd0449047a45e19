#include "storage/blob_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"

namespace falaj::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kAbcDigest =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kEmptyDigest =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(byte(engine));
  return bytes;
}

size_t CountRegularFiles(const fs::path& dir) {
  size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) ++count;
  }
  return count;
}

class FileBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "falaj_blob_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto store = OpenBlobStore("file://" + root_.string());
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  fs::path BlobPath(std::string_view digest) const {
    return root_ / "sha256" / std::string(digest.substr(0, 2)) / std::string(digest.substr(2));
  }

  fs::path root_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(FileBlobStoreTest, PutGetRoundTripsWithKnownDigests) {
  auto abc = store_->Put("abc");
  ASSERT_TRUE(abc.has_value()) << abc.error().message;
  EXPECT_EQ(*abc, kAbcDigest);
  EXPECT_TRUE(fs::is_regular_file(BlobPath(kAbcDigest)));
  auto content = store_->Get(kAbcDigest);
  ASSERT_TRUE(content.has_value()) << content.error().message;
  EXPECT_EQ(*content, "abc");

  auto empty = store_->Put("");
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_EQ(*empty, kEmptyDigest);
  auto empty_content = store_->Get(kEmptyDigest);
  ASSERT_TRUE(empty_content.has_value()) << empty_content.error().message;
  EXPECT_EQ(*empty_content, "");
}

TEST_F(FileBlobStoreTest, PuttingExistingContentReturnsSameDigestAndLeavesNoTempFile) {
  ASSERT_EQ(store_->Put("abc").value(), kAbcDigest);
  ASSERT_EQ(store_->Put("abc").value(), kAbcDigest);
  EXPECT_EQ(store_->Get(kAbcDigest).value(), "abc");
  EXPECT_EQ(CountRegularFiles(root_ / "tmp"), 0u);
  EXPECT_EQ(CountRegularFiles(root_ / "sha256"), 1u);
}

TEST_F(FileBlobStoreTest, StreamsLargeBlobInOddChunks) {
  const std::string content = RandomBytes(5 * 1024 * 1024, 42);
  auto writer = store_->NewWriter();
  ASSERT_TRUE(writer.has_value()) << writer.error().message;
  const size_t chunk_sizes[] = {1, 7, 4093, 65537, 100003, 0};
  size_t offset = 0;
  for (size_t i = 0; offset < content.size(); ++i) {
    size_t size = std::min(chunk_sizes[i % std::size(chunk_sizes)], content.size() - offset);
    ASSERT_TRUE((*writer)->Write(std::string_view(content).substr(offset, size)).has_value());
    offset += size;
  }
  auto digest = (*writer)->Commit();
  ASSERT_TRUE(digest.has_value()) << digest.error().message;
  EXPECT_EQ(*digest, Sha256Hex(content));

  auto reader = store_->Open(*digest);
  ASSERT_TRUE(reader.has_value()) << reader.error().message;
  EXPECT_EQ((*reader)->size(), content.size());
  std::string read_back;
  std::vector<char> buffer(3001);
  while (true) {
    auto count = (*reader)->Read(buffer.data(), buffer.size());
    ASSERT_TRUE(count.has_value()) << count.error().message;
    if (*count == 0) break;
    read_back.append(buffer.data(), *count);
  }
  EXPECT_TRUE(read_back == content);
  // The verified end stays the end.
  EXPECT_EQ((*reader)->Read(buffer.data(), buffer.size()).value(), 0u);
}

TEST_F(FileBlobStoreTest, WriterIsSpentAfterCommit) {
  auto writer = store_->NewWriter().value();
  ASSERT_TRUE(writer->Write("abc").has_value());
  ASSERT_EQ(writer->Commit().value(), kAbcDigest);
  EXPECT_EQ(writer->Write("more").error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(writer->Commit().error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(FileBlobStoreTest, ExistsAndDelete) {
  EXPECT_FALSE(store_->Exists(kAbcDigest).value());
  ASSERT_EQ(store_->Put("abc").value(), kAbcDigest);
  EXPECT_TRUE(store_->Exists(kAbcDigest).value());

  ASSERT_TRUE(store_->Delete(kAbcDigest).has_value());
  EXPECT_FALSE(store_->Exists(kAbcDigest).value());
  EXPECT_EQ(store_->Open(kAbcDigest).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Delete(kAbcDigest).has_value()) << "deleting an absent blob is fine";

  ASSERT_EQ(store_->Put("abc").value(), kAbcDigest);
  EXPECT_EQ(store_->Get(kAbcDigest).value(), "abc");
}

TEST_F(FileBlobStoreTest, UncommittedWriterLeavesNothingBehind) {
  {
    auto writer = store_->NewWriter().value();
    ASSERT_TRUE(writer->Write("abc").has_value());
    EXPECT_EQ(CountRegularFiles(root_ / "tmp"), 1u);
  }
  EXPECT_EQ(CountRegularFiles(root_ / "tmp"), 0u);
  EXPECT_EQ(CountRegularFiles(root_ / "sha256"), 0u);
  EXPECT_FALSE(store_->Exists(kAbcDigest).value());
}

TEST_F(FileBlobStoreTest, CorruptBlobReadsAsDataLoss) {
  const std::string content = RandomBytes(200 * 1024, 7);
  const std::string digest = store_->Put(content).value();
  {
    std::fstream file(BlobPath(digest), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.is_open());
    file.seekp(123456);
    file.put(static_cast<char>(content[123456] ^ 0x01));
  }

  auto result = store_->Get(digest);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(result.error().message.find(digest), std::string::npos) << result.error().message;

  // Streaming readers get their bytes first, then the error instead of the end.
  auto reader = store_->Open(digest).value();
  std::vector<char> buffer(64 * 1024);
  size_t total = 0;
  Result<size_t> count;
  while ((count = reader->Read(buffer.data(), buffer.size())).has_value() && *count > 0) {
    total += *count;
  }
  EXPECT_EQ(total, content.size());
  ASSERT_FALSE(count.has_value());
  EXPECT_EQ(count.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(reader->Read(buffer.data(), buffer.size()).error().code, ErrorCode::kDataLoss);
}

TEST_F(FileBlobStoreTest, TruncatedBlobReadsAsDataLoss) {
  const std::string digest = store_->Put("some content").value();
  fs::resize_file(BlobPath(digest), 4);
  EXPECT_EQ(store_->Get(digest).error().code, ErrorCode::kDataLoss);
}

TEST_F(FileBlobStoreTest, RejectsMalformedDigests) {
  std::string upper(kAbcDigest);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  const std::string malformed[] = {
      "../../etc/passwd",
      upper,
      std::string(kAbcDigest.substr(0, 63)),
      std::string(kAbcDigest) + "0",
      "",
      "ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      std::string(kAbcDigest.substr(0, 63)) + "g",
  };
  for (const std::string& digest : malformed) {
    SCOPED_TRACE(digest);
    EXPECT_EQ(store_->Open(digest).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(store_->Get(digest).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(store_->Exists(digest).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(store_->Delete(digest).error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(FileBlobStoreTest, OpenOfAbsentBlobIsNotFound) {
  auto reader = store_->Open(kAbcDigest);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, ErrorCode::kNotFound);
  EXPECT_NE(reader.error().message.find(kAbcDigest), std::string::npos);
}

TEST_F(FileBlobStoreTest, ConcurrentPutsOfSameAndDifferentContentSucceed) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  const std::string shared = RandomBytes(100 * 1024, 1);
  std::vector<std::vector<Result<std::string>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        results[t].push_back(store_->Put(shared));
        results[t].push_back(store_->Put(RandomBytes(10 * 1024, 1000 + t)));
      }
    });
  }
  for (auto& thread : threads) thread.join();

  for (int t = 0; t < kThreads; ++t) {
    const std::string own = RandomBytes(10 * 1024, 1000 + t);
    for (size_t i = 0; i < results[t].size(); ++i) {
      ASSERT_TRUE(results[t][i].has_value()) << results[t][i].error().message;
      EXPECT_EQ(*results[t][i], Sha256Hex(i % 2 == 0 ? shared : own));
    }
    EXPECT_EQ(store_->Get(Sha256Hex(own)).value(), own);
  }
  EXPECT_EQ(store_->Get(Sha256Hex(shared)).value(), shared);
  EXPECT_EQ(CountRegularFiles(root_ / "tmp"), 0u);
  EXPECT_EQ(CountRegularFiles(root_ / "sha256"), kThreads + 1u);
}

TEST_F(FileBlobStoreTest, ReopeningSeesExistingBlobs) {
  ASSERT_EQ(store_->Put("abc").value(), kAbcDigest);
  auto reopened = OpenBlobStore("FILE://" + root_.string() + "/");
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  EXPECT_EQ((*reopened)->Get(kAbcDigest).value(), "abc");
}

TEST(OpenBlobStoreTest, CreatesMissingDirectories) {
  std::string pattern = (fs::temp_directory_path() / "falaj_blob_test_XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const fs::path root = fs::path(pattern) / "nested" / "blobs";
  auto store = OpenBlobStore("file://" + root.string());
  ASSERT_TRUE(store.has_value()) << store.error().message;
  EXPECT_TRUE(fs::is_directory(root / "tmp"));
  EXPECT_EQ((*store)->Put("abc").value(), kAbcDigest);
  fs::remove_all(pattern);
}

TEST(OpenBlobStoreTest, RootThatIsAFileIsAnErrorNamingThePath) {
  std::string pattern = (fs::temp_directory_path() / "falaj_blob_test_XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const fs::path root = fs::path(pattern) / "not_a_dir";
  std::ofstream(root) << "x";
  auto store = OpenBlobStore("file://" + root.string());
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  EXPECT_NE(store.error().message.find(root.string()), std::string::npos) << store.error().message;
  fs::remove_all(pattern);
}

TEST(OpenBlobStoreTest, UnknownSchemeIsInvalidArgumentListingKnownOnes) {
  auto store = OpenBlobStore("nosuch://x");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(store.error().message.find("nosuch"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("file"), std::string::npos) << store.error().message;
}

TEST(OpenBlobStoreTest, UriWithoutSchemeIsInvalidArgument) {
  auto store = OpenBlobStore("no-scheme");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
}

TEST(OpenBlobStoreTest, DispatchesToRegisteredSchemeCaseInsensitively) {
  // The registry is process-wide and refuses duplicates, so register once even under
  // --gtest_repeat.
  static std::once_flag registered;
  std::call_once(registered, [] {
    RegisterBlobStoreScheme("BlobTestScheme", [](std::string_view uri) {
      return Result<std::unique_ptr<BlobStore>>(
          std::unexpected(Error{ErrorCode::kUnimplemented, std::string(uri)}));
    });
  });
  auto store = OpenBlobStore("BLOBTESTSCHEME://somewhere");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kUnimplemented);
  EXPECT_EQ(store.error().message, "BLOBTESTSCHEME://somewhere");
}

}  // namespace
}  // namespace falaj::storage
