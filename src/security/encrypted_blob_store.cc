#include "security/encrypted_blob_store.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/random.h"

namespace falaj::security {
namespace {

constexpr size_t kReadChunkSize = 64 * 1024;
constexpr size_t kObjectIdBytes = 16;

// Runs before a digest reaches SQL or the underlying store; mirrors the BlobStore contract.
Status ValidateDigest(std::string_view digest) {
  auto is_lower_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (digest.size() != 64 || !std::all_of(digest.begin(), digest.end(), is_lower_hex)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'{}' is not a blob digest: expected 64 lowercase hex characters",
                     digest.substr(0, 128));
  }
  return Ok();
}

// The object id as bound into the envelope, in a namespace of its own so it can never equal an
// object id another caller of ProjectKeyring uses for the same project.
std::string AadObjectId(std::string_view object_id) { return "blob:" + std::string(object_id); }

void Wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace

class EncryptedBlobStore::Writer final : public storage::BlobWriter {
 public:
  Writer(EncryptedBlobStore& store, std::unique_ptr<storage::BlobWriter> inner,
         std::unique_ptr<EnvelopeSealer> sealer, std::string object_id)
      : store_(store),
        inner_(std::move(inner)),
        sealer_(std::move(sealer)),
        object_id_(std::move(object_id)) {}

  Status Write(std::string_view chunk) override {
    if (done_) return MakeError(ErrorCode::kFailedPrecondition, "blob writer is closed");
    hash_.Update(chunk);
    size_ += chunk.size();
    Status written = sealer_->Update(chunk, &sealed_);
    if (written) written = Flush();
    if (!written) done_ = true;
    return written;
  }

  Result<std::string> Commit() override {
    if (done_) return MakeError(ErrorCode::kFailedPrecondition, "blob writer is closed");
    done_ = true;
    FALAJ_RETURN_IF_ERROR(sealer_->Finish(&sealed_));
    FALAJ_RETURN_IF_ERROR(Flush());
    auto ciphertext_digest = inner_->Commit();
    if (!ciphertext_digest) return ciphertext_digest;
    return store_.Record(hash_.FinishHex(), Mapping{*ciphertext_digest, object_id_, size_},
                         sealer_->dek_version());
  }

 private:
  Status Flush() {
    if (sealed_.empty()) return Ok();
    Status written = inner_->Write(sealed_);
    sealed_.clear();
    return written;
  }

  EncryptedBlobStore& store_;
  std::unique_ptr<storage::BlobWriter> inner_;
  std::unique_ptr<EnvelopeSealer> sealer_;
  const std::string object_id_;
  Sha256 hash_;
  uint64_t size_ = 0;
  std::string sealed_;  // ciphertext not yet handed to inner_
  bool done_ = false;
};

class EncryptedBlobStore::Reader final : public storage::BlobReader {
 public:
  Reader(std::unique_ptr<storage::BlobReader> inner, std::unique_ptr<EnvelopeOpener> opener,
         std::string digest, uint64_t size)
      : inner_(std::move(inner)),
        opener_(std::move(opener)),
        digest_(std::move(digest)),
        size_(size),
        chunk_(kReadChunkSize, '\0') {}
  ~Reader() override { Wipe(plain_); }

  Result<size_t> Read(char* buffer, size_t capacity) override {
    if (error_) return std::unexpected(*error_);
    if (capacity == 0) return MakeError(ErrorCode::kInvalidArgument, "read capacity is 0");
    while (offset_ == plain_.size() && !inner_done_) {
      if (Status filled = Fill(); !filled) {
        error_ = filled.error();
        Wipe(plain_);
        return std::unexpected(*error_);
      }
    }
    if (offset_ < plain_.size()) {
      size_t count = std::min(capacity, plain_.size() - offset_);
      std::memcpy(buffer, plain_.data() + offset_, count);
      offset_ += count;
      return count;
    }
    if (!verified_) {
      std::string actual = hash_.FinishHex();
      if (produced_ != size_ || actual != digest_) {
        error_ = Error{ErrorCode::kDataLoss,
                       fmt::format("encrypted blob {} decrypted to content with digest {} ({} "
                                   "bytes, expected {})",
                                   digest_, actual, produced_, size_)};
        return std::unexpected(*error_);
      }
      verified_ = true;
    }
    return size_t{0};
  }

  uint64_t size() const override { return size_; }

 private:
  // Decrypts the next chunk of ciphertext into plain_ (which is fully consumed).
  Status Fill() {
    Wipe(plain_);
    offset_ = 0;
    auto count = inner_->Read(chunk_.data(), chunk_.size());
    if (!count) return std::unexpected(count.error());
    if (*count == 0) {
      inner_done_ = true;
      FALAJ_RETURN_IF_ERROR(opener_->Finish(&plain_));
    } else {
      FALAJ_RETURN_IF_ERROR(opener_->Update(std::string_view(chunk_.data(), *count), &plain_));
    }
    hash_.Update(plain_);
    produced_ += plain_.size();
    return Ok();
  }

  std::unique_ptr<storage::BlobReader> inner_;
  std::unique_ptr<EnvelopeOpener> opener_;
  const std::string digest_;
  const uint64_t size_;
  std::string chunk_;  // ciphertext read buffer
  std::string plain_;  // decrypted, not yet returned from offset_ on
  size_t offset_ = 0;
  Sha256 hash_;
  uint64_t produced_ = 0;
  bool inner_done_ = false;
  bool verified_ = false;
  std::optional<Error> error_;  // sticky: once a read fails, every later read fails
};

EncryptedBlobStore::EncryptedBlobStore(storage::BlobStore& underlying, ProjectKeyring& keyring,
                                       storage::MetadataStore& metadata, std::string project,
                                       std::string region, const Clock& clock)
    : underlying_(underlying),
      keyring_(keyring),
      metadata_(metadata),
      project_(std::move(project)),
      region_(std::move(region)),
      clock_(clock) {}

const storage::MigrationSet& EncryptedBlobStore::Migrations() {
  static const storage::MigrationSet kSet{
      "encrypted_blobs",
      {{1, "create encrypted_blobs",
        "CREATE TABLE encrypted_blobs (project TEXT NOT NULL, plaintext_digest TEXT NOT NULL, "
        "ciphertext_digest TEXT NOT NULL, object_id TEXT NOT NULL, dek_version BIGINT NOT NULL, "
        "plaintext_size BIGINT NOT NULL, created_at_ms BIGINT NOT NULL, "
        "PRIMARY KEY (project, plaintext_digest))"}}};
  return kSet;
}

Result<std::unique_ptr<storage::BlobWriter>> EncryptedBlobStore::NewWriter() {
  std::string object_id = RandomHex(kObjectIdBytes);
  std::string aad_object_id = AadObjectId(object_id);
  auto sealer = keyring_.NewSealer({project_, region_, aad_object_id});
  if (!sealer) return std::unexpected(sealer.error());
  auto inner = underlying_.NewWriter();
  if (!inner) return std::unexpected(inner.error());
  return std::unique_ptr<storage::BlobWriter>(
      new Writer(*this, std::move(*inner), std::move(*sealer), std::move(object_id)));
}

Result<std::optional<EncryptedBlobStore::Mapping>> EncryptedBlobStore::Lookup(
    std::string_view digest) {
  FALAJ_RETURN_IF_ERROR(ValidateDigest(digest));
  std::optional<Mapping> found;
  FALAJ_RETURN_IF_ERROR(metadata_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query(
            "SELECT ciphertext_digest, object_id, plaintext_size FROM encrypted_blobs "
            "WHERE project = ? AND plaintext_digest = ?",
            {project_, std::string(digest)});
        if (!rows) return std::unexpected(rows.error());
        if (!rows->empty()) {
          const auto& row = rows->front();
          found = Mapping{row.Text(0), row.Text(1), static_cast<uint64_t>(row.Int(2))};
        }
        return Ok();
      }));
  return found;
}

Result<std::string> EncryptedBlobStore::Record(const std::string& digest, const Mapping& mapping,
                                               uint32_t dek_version) {
  std::vector<storage::SqlValue> values{mapping.ciphertext_digest,
                                        mapping.object_id,
                                        int64_t{dek_version},
                                        static_cast<int64_t>(mapping.plaintext_size),
                                        project_,
                                        digest};
  auto insert_row = [&](storage::Transaction& tx) -> Status {
    std::vector<storage::SqlValue> params = values;
    params.emplace_back(ToUnixMillis(clock_.Now()));
    return tx.Run(
        "INSERT INTO encrypted_blobs (ciphertext_digest, object_id, dek_version, "
        "plaintext_size, project, plaintext_digest, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params);
  };
  Status inserted = metadata_.RunTransaction(storage::TransactionMode::kReadWrite, insert_row);
  if (inserted) return digest;
  if (inserted.error().code != ErrorCode::kAlreadyExists) {
    (void)underlying_.Delete(mapping.ciphertext_digest);  // best effort: it is unreferenced
    return std::unexpected(inserted.error());
  }
  // The content is already stored for this project: keep the first copy if it is intact.
  auto existing = Lookup(digest);
  if (!existing) return std::unexpected(existing.error());
  if (*existing) {
    auto present = underlying_.Exists((*existing)->ciphertext_digest);
    if (!present) return std::unexpected(present.error());
    if (*present) {
      FALAJ_RETURN_IF_ERROR(underlying_.Delete(mapping.ciphertext_digest));
      return digest;
    }
  }
  // The old row points at a missing object (or vanished meanwhile): point it at the new copy.
  FALAJ_RETURN_IF_ERROR(metadata_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM encrypted_blobs WHERE project = ? AND plaintext_digest = ?",
                   {project_, digest}));
        return insert_row(tx);
      }));
  return digest;
}

Result<std::unique_ptr<storage::BlobReader>> EncryptedBlobStore::Open(std::string_view digest) {
  auto mapping = Lookup(digest);
  if (!mapping) return std::unexpected(mapping.error());
  if (!*mapping) {
    return MakeError(ErrorCode::kNotFound, "blob {} not found in project '{}'", digest, project_);
  }
  auto inner = underlying_.Open((*mapping)->ciphertext_digest);
  if (!inner) {
    if (inner.error().code != ErrorCode::kNotFound) return std::unexpected(inner.error());
    return MakeError(ErrorCode::kDataLoss, "blob {} of project '{}' lost its ciphertext {}", digest,
                     project_, (*mapping)->ciphertext_digest);
  }
  std::string aad_object_id = AadObjectId((*mapping)->object_id);
  auto opener = keyring_.NewOpener({project_, region_, aad_object_id});
  return std::unique_ptr<storage::BlobReader>(new Reader(
      std::move(*inner), std::move(opener), std::string(digest), (*mapping)->plaintext_size));
}

Result<bool> EncryptedBlobStore::Exists(std::string_view digest) {
  auto mapping = Lookup(digest);
  if (!mapping) return std::unexpected(mapping.error());
  if (!*mapping) return false;
  return underlying_.Exists((*mapping)->ciphertext_digest);
}

Status EncryptedBlobStore::Delete(std::string_view digest) {
  auto mapping = Lookup(digest);
  if (!mapping) return std::unexpected(mapping.error());
  if (!*mapping) return Ok();
  FALAJ_RETURN_IF_ERROR(metadata_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "DELETE FROM encrypted_blobs WHERE project = ? AND plaintext_digest = ? AND "
            "ciphertext_digest = ?",
            {project_, std::string(digest), (*mapping)->ciphertext_digest});
      }));
  return underlying_.Delete((*mapping)->ciphertext_digest);
}

}  // namespace falaj::security
