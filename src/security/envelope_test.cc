#include "security/envelope.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "security/encrypted_blob_store.h"
#include "security/key_provider.h"
#include "storage/blob_store.h"
#include "storage/metadata_store.h"

namespace falaj::security {
namespace {

namespace fs = std::filesystem;
using storage::Transaction;
using storage::TransactionMode;

void WriteFile(const fs::path& path, std::string_view content, mode_t mode) {
  fs::remove(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ASSERT_EQ(::fchmod(fd, mode), 0);  // fchmod is not subject to the umask
  ::close(fd);
}

std::string KeyLine(uint32_t version, std::string_view key) {
  return std::to_string(version) + ":" + Base64UrlEncode(key) + "\n";
}

std::string Flip(std::string bytes, size_t bit) {
  bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
  return bytes;
}

// True if any regular file under `dir` contains `needle`.
bool AnyFileContains(const fs::path& dir, std::string_view needle) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(needle) != std::string::npos) return true;
  }
  return false;
}

class EnvelopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("falaj_envelope_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "keys");
    auto store = storage::OpenMetadataStore("sqlite://" + (dir_ / "m.db").string(), 2);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(ProjectKeyring::Migrations()));
    ASSERT_TRUE(store_->Migrate(EncryptedBlobStore::Migrations()));
    auto blobs = storage::OpenBlobStore("file://" + (dir_ / "blobs").string());
    ASSERT_TRUE(blobs) << blobs.error().message;
    blobs_ = std::move(*blobs);
    provider_ = Provider(KeyLine(1, kek1_));
    keyring_ = std::make_unique<ProjectKeyring>(*store_, *provider_);
  }
  void TearDown() override {
    keyring_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::unique_ptr<KeyEncryptionKeyProvider> Provider(std::string_view key_text) {
    fs::path path = dir_ / "keys" / ("kek" + std::to_string(++key_files_));
    WriteFile(path, key_text, 0600);
    auto provider = OpenKeyProvider("file://" + path.string());
    EXPECT_TRUE(provider) << provider.error().message;
    return provider ? std::move(*provider) : nullptr;
  }

  // (kek_version, wrapped_dek) of a project's DEK v1.
  std::pair<int64_t, std::string> KeyRow(std::string_view project) {
    std::pair<int64_t, std::string> row{-1, ""};
    EXPECT_TRUE(store_->RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
      auto rows = tx.Query(
          "SELECT kek_version, wrapped_dek FROM project_keys WHERE project = ? AND dek_version = 1",
          {std::string(project)});
      if (!rows) return std::unexpected(rows.error());
      if (!rows->empty()) row = {rows->front().Int(0), rows->front().Text(1)};
      return Ok();
    }));
    return row;
  }

  Status Sql(std::string_view sql, const std::vector<storage::SqlValue>& params) {
    return store_->RunTransaction(TransactionMode::kReadWrite,
                                  [&](Transaction& tx) { return tx.Run(sql, params); });
  }

  const std::string kek1_ = NewAeadKey();
  const std::string kek2_ = NewAeadKey();
  fs::path dir_;
  int key_files_ = 0;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<storage::BlobStore> blobs_;
  std::unique_ptr<KeyEncryptionKeyProvider> provider_;
  std::unique_ptr<ProjectKeyring> keyring_;
};

TEST_F(EnvelopeTest, RoundTripWithSelfDescribingHeader) {
  auto envelope = keyring_->Encrypt("acme", "ae", "dataset/1", "secret rows");
  ASSERT_TRUE(envelope) << envelope.error().message;
  EXPECT_EQ(envelope->substr(0, 4), "FLJE");
  EXPECT_EQ((*envelope)[4], 1);                                   // format version
  EXPECT_EQ((*envelope)[5], 1);                                   // one-shot AES-256-GCM
  EXPECT_EQ(envelope->substr(6, 4), std::string("\0\0\0\1", 4));  // DEK version 1
  EXPECT_EQ(envelope->size(), kEnvelopePrefixSize + kAeadNonceSize + 11 + kAeadTagSize);
  EXPECT_EQ(*keyring_->Decrypt("acme", "ae", "dataset/1", *envelope), "secret rows");
  EXPECT_EQ(*keyring_->Decrypt("acme", "ae", "e", *keyring_->Encrypt("acme", "ae", "e", "")), "");
  EXPECT_EQ(KeyRow("acme").first, 1);
  EXPECT_EQ(keyring_->Encrypt("", "ae", "x", "y").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(EnvelopeTest, FlippedBitAnywhereInHeaderOrCiphertextFails) {
  auto one_shot = keyring_->Encrypt("acme", "ae", "obj", "twenty bytes of data");
  ASSERT_TRUE(one_shot);
  auto sealer = keyring_->NewSealer({"acme", "ae", "obj"}, kStreamMinSegmentSize);
  ASSERT_TRUE(sealer);
  std::string stream;
  ASSERT_TRUE((*sealer)->Update(std::string(600, 's'), &stream));
  ASSERT_TRUE((*sealer)->Finish(&stream));
  ASSERT_EQ(keyring_->Decrypt("acme", "ae", "obj", stream)->size(), 600u);
  for (const std::string* envelope : {&*one_shot, &stream}) {
    for (size_t bit = 0; bit < envelope->size() * 8; ++bit) {
      auto decrypted = keyring_->Decrypt("acme", "ae", "obj", Flip(*envelope, bit));
      ASSERT_FALSE(decrypted) << "bit " << bit;
      ASSERT_EQ(decrypted.error().code, ErrorCode::kDataLoss) << decrypted.error().message;
    }
  }
}

TEST_F(EnvelopeTest, CiphertextMovedToAnotherProjectObjectOrRegionFails) {
  auto envelope = keyring_->Encrypt("acme", "ae", "model/7", "weights");
  ASSERT_TRUE(envelope);
  // "globex" has no data key yet, then gets one of its own.
  EXPECT_EQ(keyring_->Decrypt("globex", "ae", "model/7", *envelope).error().code,
            ErrorCode::kDataLoss);
  ASSERT_TRUE(keyring_->Encrypt("globex", "ae", "model/7", "theirs"));
  EXPECT_EQ(keyring_->Decrypt("globex", "ae", "model/7", *envelope).error().code,
            ErrorCode::kDataLoss);
  EXPECT_EQ(keyring_->Decrypt("acme", "ae", "model/8", *envelope).error().code,
            ErrorCode::kDataLoss);
  EXPECT_EQ(keyring_->Decrypt("acme", "us", "model/7", *envelope).error().code,
            ErrorCode::kDataLoss);
  // Copying acme's wrapped DEK into globex's row does not give globex acme's key.
  ASSERT_TRUE(Sql("UPDATE project_keys SET wrapped_dek = ? WHERE project = 'globex'",
                  {KeyRow("acme").second}));
  keyring_->ClearCache();
  auto stolen = keyring_->Decrypt("globex", "ae", "model/7", *envelope);
  ASSERT_FALSE(stolen);
  EXPECT_EQ(stolen.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(stolen.error().message.find("cannot unwrap"), std::string::npos);
}

TEST_F(EnvelopeTest, WrongKekFailsLoudly) {
  auto envelope = keyring_->Encrypt("acme", "ae", "o", "data");
  ASSERT_TRUE(envelope);
  auto impostor = Provider(KeyLine(1, NewAeadKey()));
  ProjectKeyring wrong(*store_, *impostor);
  auto decrypted = wrong.Decrypt("acme", "ae", "o", *envelope);
  ASSERT_FALSE(decrypted);
  EXPECT_EQ(decrypted.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(decrypted.error().message.find("cannot unwrap data key with KEK 'local' version 1"),
            std::string::npos)
      << decrypted.error().message;
  // It must not quietly mint a fresh key for a project that already has one.
  EXPECT_FALSE(wrong.Encrypt("acme", "ae", "o2", "more"));

  auto missing_version = Provider(KeyLine(2, kek2_));
  auto missing = ProjectKeyring(*store_, *missing_version).Decrypt("acme", "ae", "o", *envelope);
  EXPECT_EQ(missing.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(missing.error().message.find("no version 1"), std::string::npos);

  auto other_id = Provider(R"({"kek_id": "prod", "keys": [{"version": 1, "key": ")" +
                           Base64UrlEncode(kek1_) + "\"}]}");
  auto foreign = ProjectKeyring(*store_, *other_id).Decrypt("acme", "ae", "o", *envelope);
  EXPECT_EQ(foreign.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(foreign.error().message.find("wrapped by KEK 'local'"), std::string::npos);
}

TEST_F(EnvelopeTest, KekRotationRewrapsWithoutReencrypting) {
  auto a = keyring_->Encrypt("acme", "ae", "o", "acme data");
  auto b = keyring_->Encrypt("globex", "us", "o", "globex data");
  ASSERT_TRUE(a && b);
  auto before = KeyRow("acme");
  EXPECT_EQ(before.first, 1);

  auto rotated = Provider(KeyLine(1, kek1_) + KeyLine(2, kek2_));
  ASSERT_EQ(rotated->current_version(), 2u);
  ProjectKeyring after_rotation(*store_, *rotated);
  ASSERT_TRUE(after_rotation.RewrapAll());
  auto after = KeyRow("acme");
  EXPECT_EQ(after.first, 2);
  EXPECT_NE(after.second, before.second);
  EXPECT_EQ(KeyRow("globex").first, 2);
  ASSERT_TRUE(after_rotation.RewrapAll());  // nothing left to do
  EXPECT_EQ(KeyRow("acme").second, after.second);

  // The data itself is untouched and decrypts, even with version 1 retired.
  auto only_v2 = Provider(KeyLine(2, kek2_));
  ProjectKeyring retired(*store_, *only_v2);
  EXPECT_EQ(*retired.Decrypt("acme", "ae", "o", *a), "acme data");
  EXPECT_EQ(*retired.Decrypt("globex", "us", "o", *b), "globex data");
}

TEST_F(EnvelopeTest, DataKeyRotationKeepsOldVersionsReadable) {
  auto old_envelope = keyring_->Encrypt("acme", "ae", "o", "v1 data");
  ASSERT_TRUE(old_envelope);
  EXPECT_EQ(*keyring_->RotateDataKey("acme"), 2u);
  auto new_envelope = keyring_->Encrypt("acme", "ae", "o", "v2 data");
  EXPECT_EQ(new_envelope->substr(6, 4), std::string("\0\0\0\2", 4));
  keyring_->ClearCache();
  EXPECT_EQ(*keyring_->Decrypt("acme", "ae", "o", *old_envelope), "v1 data");
  EXPECT_EQ(*keyring_->Decrypt("acme", "ae", "o", *new_envelope), "v2 data");
}

TEST_F(EnvelopeTest, KeyFileModeAndFormatAreChecked) {
  std::string lines = KeyLine(1, kek1_) + "# comment\n\n" + KeyLine(2, kek2_);
  for (mode_t mode : {0644, 0640, 0604, 0660, 0610}) {
    WriteFile(dir_ / "loose", lines, mode);
    auto refused = LocalKeyProvider::FromFile((dir_ / "loose").string());
    ASSERT_FALSE(refused) << std::oct << mode;
    EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(refused.error().message.find("chmod 600"), std::string::npos);
  }
  WriteFile(dir_ / "loose", lines, 0644);
  EXPECT_NE(LocalKeyProvider::FromFile((dir_ / "loose").string()).error().message.find("0644"),
            std::string::npos);
  for (mode_t mode : {0600, 0400}) {
    WriteFile(dir_ / "tight", lines, mode);
    auto accepted = LocalKeyProvider::FromFile((dir_ / "tight").string());
    ASSERT_TRUE(accepted) << accepted.error().message;
    EXPECT_EQ((*accepted)->current_version(), 2u);
  }
  EXPECT_EQ(LocalKeyProvider::FromFile((dir_ / "absent").string()).error().code,
            ErrorCode::kNotFound);

  std::string secret = Base64UrlEncode(kek1_);
  for (const std::string& bad : std::vector<std::string>{
           "0:" + secret, "1:" + secret + "\n1:" + secret, "1:" + secret + "!",
           "1:" + secret.substr(4), "x:" + secret, secret, "", "# nothing",
           R"({"keys": [], "extra": 1})", "{\"keys\": [{\"version\": 1}]}",
           R"({"current_version": 3, "keys": [{"version": 1, "key": ")" + secret + "\"}]}"}) {
    auto parsed = LocalKeyProvider::FromText(bad, "test keys");
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(parsed.error().message.find(secret.substr(0, 12)), std::string::npos);
  }
}

TEST_F(EnvelopeTest, JsonStagingEnvAndInMemoryRotation) {
  std::string json = R"({"kek_id": "prod", "current_version": 1, "keys": [)"
                     R"({"version": 1, "key": ")" +
                     Base64UrlEncode(kek1_) + R"("}, {"version": 2, "key": ")" +
                     Base64UrlEncode(kek2_) + "\"}]}";
  auto staged = LocalKeyProvider::FromText(json, "json");
  ASSERT_TRUE(staged) << staged.error().message;
  EXPECT_EQ((*staged)->kek_id(), "prod");
  EXPECT_EQ((*staged)->current_version(), 1u);  // version 2 staged: unwraps, does not wrap
  auto wrapped = (*staged)->Wrap("dek", "aad");
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(wrapped->kek_version, 1u);
  ASSERT_TRUE((*staged)->AddVersion(3, NewAeadKey()));
  EXPECT_EQ((*staged)->current_version(), 3u);
  EXPECT_EQ((*staged)->Wrap("dek", "aad")->kek_version, 3u);
  EXPECT_EQ(*(*staged)->Unwrap(*wrapped, "aad"), "dek");
  EXPECT_EQ((*staged)->Unwrap(*wrapped, "other aad").error().code, ErrorCode::kDataLoss);
  WrappedKey relabelled = *wrapped;
  relabelled.kek_version = 2;
  EXPECT_EQ((*staged)->Unwrap(relabelled, "aad").error().code, ErrorCode::kDataLoss);
  EXPECT_EQ((*staged)->AddVersion(1, NewAeadKey()).error().code, ErrorCode::kAlreadyExists);

  ::setenv("FALAJ_TEST_KEK", (KeyLine(1, kek1_) + "," + KeyLine(4, kek2_)).c_str(), 1);
  auto env = OpenKeyProvider("env://FALAJ_TEST_KEK");
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_EQ((*env)->current_version(), 4u);
  ::unsetenv("FALAJ_TEST_KEK");
  EXPECT_EQ(OpenKeyProvider("env://FALAJ_TEST_KEK").error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(OpenKeyProvider("env://not a name").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenKeyProvider("vault://kek").error().code, ErrorCode::kInvalidArgument);
}

// --- EncryptedBlobStore ----------------------------------------------------------------------

constexpr std::string_view kMarker = "FALAJ-PLAINTEXT-MARKER-";

std::string RecognisablePattern(size_t size) {
  std::string content;
  for (int i = 0; content.size() < size; ++i) content += fmt::format("{}{:08d}|", kMarker, i);
  content.resize(size);
  return content;
}

TEST_F(EnvelopeTest, BlobsAreAddressedByPlaintextDigestAndStoredEncrypted) {
  EncryptedBlobStore acme(*blobs_, *keyring_, *store_, "acme", "ae");
  const std::string content = RecognisablePattern(1 << 20);
  auto digest = acme.Put(content);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(*digest, Sha256Hex(content));
  EXPECT_EQ(*acme.Get(*digest), content);
  EXPECT_EQ((*acme.Open(*digest))->size(), content.size());
  EXPECT_TRUE(*acme.Exists(*digest));
  EXPECT_FALSE(*blobs_->Exists(*digest));  // the underlying object is the ciphertext

  EXPECT_FALSE(AnyFileContains(dir_, kMarker)) << "plaintext found on disk";
  EXPECT_FALSE(AnyFileContains(dir_, content.substr(500000, 64)));
  // The scan itself works: an unencrypted store does expose the marker.
  auto plain = storage::OpenBlobStore("file://" + (dir_ / "control").string());
  ASSERT_TRUE((*plain)->Put(content));
  EXPECT_TRUE(AnyFileContains(dir_ / "control", kMarker));

  // Same content again: same digest, no second ciphertext.
  auto count_files = [&] {
    size_t count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / "blobs" / "sha256")) {
      count += entry.is_regular_file() ? 1 : 0;
    }
    return count;
  };
  EXPECT_EQ(count_files(), 1u);
  EXPECT_EQ(*acme.Put(content), *digest);
  EXPECT_EQ(count_files(), 1u);

  auto empty = acme.Put("");
  EXPECT_EQ(*acme.Get(*empty), "");
  ASSERT_TRUE(acme.Delete(*digest));
  EXPECT_EQ(acme.Get(*digest).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(acme.Open("../etc").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(EnvelopeTest, BlobsAreIsolatedPerProjectAndSubstitutionIsDataLoss) {
  EncryptedBlobStore acme(*blobs_, *keyring_, *store_, "acme", "ae");
  EncryptedBlobStore globex(*blobs_, *keyring_, *store_, "globex", "ae");
  auto x = acme.Put("acme model X");
  auto y = acme.Put("acme model Y");
  auto g = globex.Put("globex model");
  ASSERT_TRUE(x && y && g);
  EXPECT_EQ(globex.Open(*x).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(*globex.Exists(*x));

  auto point = [&](std::string_view project, const std::string& digest, const std::string& from,
                   bool with_object_id) {
    std::string columns = with_object_id ? "ciphertext_digest, object_id" : "ciphertext_digest";
    std::string sql = fmt::format(
        "UPDATE encrypted_blobs SET ({0}) = (SELECT {0} FROM encrypted_blobs WHERE "
        "plaintext_digest = ?) WHERE project = ? AND plaintext_digest = ?",
        columns);
    ASSERT_TRUE(Sql(sql, {from, std::string(project), digest}));
  };
  // Y's ciphertext under X's name: the envelope binds another object id.
  point("acme", *x, *y, false);
  EXPECT_EQ(acme.Get(*x).error().code, ErrorCode::kDataLoss);
  // Y's ciphertext and object id under X's name: decrypts, but is not X.
  point("acme", *x, *y, true);
  auto swapped = acme.Get(*x);
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(swapped.error().message.find("decrypted to content with digest"), std::string::npos);
  // acme's ciphertext planted in globex's table: globex's key cannot open it.
  point("globex", *g, *y, true);
  EXPECT_EQ(globex.Get(*g).error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(*acme.Get(*y), "acme model Y");
}

TEST_F(EnvelopeTest, ConcurrentEncryptDecryptFromEightThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 engine(t);
      EncryptedBlobStore blobs(*blobs_, *keyring_, *store_, "p" + std::to_string(t % 3), "ae");
      for (int i = 0; i < 40; ++i) {
        std::string project = "p" + std::to_string((t + i) % 3);
        std::string object = fmt::format("t{}-{}", t, i);
        std::string data(engine() % 5000, static_cast<char>('a' + t));
        auto envelope = keyring_->Encrypt(project, "ae", object, data);
        auto decrypted =
            envelope ? keyring_->Decrypt(project, "ae", object, *envelope) : Result<std::string>();
        if (!envelope || !decrypted || *decrypted != data) ++failures;
        if (i % 8 == 0) {
          std::string blob = data + object;
          auto digest = blobs.Put(blob);
          auto read = digest ? blobs.Get(*digest) : Result<std::string>();
          if (!digest || !read || *read != blob) ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  // Racing first uses still produced exactly one data key per project.
  ASSERT_TRUE(store_->RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
    auto rows = tx.Query("SELECT project, COUNT(*) FROM project_keys GROUP BY project");
    EXPECT_EQ(rows->size(), 3u);
    for (const auto& row : *rows) EXPECT_EQ(row.Int(1), 1) << row.Text(0);
    return Ok();
  }));
}

}  // namespace
}  // namespace falaj::security
