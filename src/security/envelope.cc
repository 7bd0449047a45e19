#include "security/envelope.h"

#include <openssl/crypto.h>

#include <mutex>
#include <optional>
#include <vector>

#include "common/encoding.h"

namespace falaj::security {
namespace {

constexpr std::string_view kEnvelopeLabel = "falaj/envelope/v1";
constexpr std::string_view kDekLabel = "falaj/project-dek/v1";

void Wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

void AppendU32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

void AppendField(std::string* out, std::string_view field) {
  AppendU32(out, static_cast<uint32_t>(field.size()));
  out->append(field);
}

// What a wrapped DEK belongs to; a row copied to another project or version fails to unwrap.
std::string DekAad(std::string_view project, uint32_t dek_version) {
  std::string aad(kDekLabel);
  AppendField(&aad, project);
  AppendU32(&aad, dek_version);
  return aad;
}

std::string Prefix(EnvelopeAlgorithm algorithm, uint32_t dek_version) {
  std::string prefix(kEnvelopeMagic);
  prefix.push_back(static_cast<char>(kEnvelopeFormatVersion));
  prefix.push_back(static_cast<char>(algorithm));
  AppendU32(&prefix, dek_version);
  return prefix;
}

struct ParsedPrefix {
  EnvelopeAlgorithm algorithm;
  uint32_t dek_version;
};

Result<ParsedPrefix> ParsePrefix(std::string_view envelope) {
  if (envelope.size() < kEnvelopePrefixSize) {
    return MakeError(ErrorCode::kDataLoss, "envelope is truncated: {} bytes", envelope.size());
  }
  if (envelope.substr(0, kEnvelopeMagic.size()) != kEnvelopeMagic) {
    return MakeError(ErrorCode::kDataLoss, "not a Falaj envelope: bad magic");
  }
  auto byte = [&](size_t i) { return static_cast<unsigned char>(envelope[i]); };
  if (byte(4) != kEnvelopeFormatVersion) {
    return MakeError(ErrorCode::kDataLoss, "envelope format version {} is not supported", byte(4));
  }
  if (byte(5) != static_cast<uint8_t>(EnvelopeAlgorithm::kOneShot) &&
      byte(5) != static_cast<uint8_t>(EnvelopeAlgorithm::kStream)) {
    return MakeError(ErrorCode::kDataLoss, "envelope algorithm {} is not supported", byte(5));
  }
  uint32_t version = (uint32_t{byte(6)} << 24) | (uint32_t{byte(7)} << 16) |
                     (uint32_t{byte(8)} << 8) | uint32_t{byte(9)};
  if (version == 0) return MakeError(ErrorCode::kDataLoss, "envelope names DEK version 0");
  return ParsedPrefix{static_cast<EnvelopeAlgorithm>(byte(5)), version};
}

Status CheckProject(std::string_view project) {
  if (project.empty()) return MakeError(ErrorCode::kInvalidArgument, "project must not be empty");
  return Ok();
}

// Names the object without echoing unbounded caller input.
std::unexpected<Error> Annotate(const Error& error, const EnvelopeContext& context) {
  return MakeError(error.code, "{} (project '{}', object '{}')", error.message,
                   context.project.substr(0, 128), context.object_id.substr(0, 128));
}

struct KeyRow {
  uint32_t dek_version;
  WrappedKey wrapped;
  std::string stored;  // wrapped_dek exactly as stored, for compare-and-set updates
};

constexpr std::string_view kKeyColumns =
    "SELECT dek_version, kek_id, kek_version, wrapped_dek FROM project_keys WHERE project = ?";

Result<KeyRow> ToKeyRow(const storage::Row& row) {
  auto ciphertext = DecodeBase64(row.Text(3));
  if (!ciphertext) {
    return MakeError(ErrorCode::kDataLoss, "project_keys row holds a malformed wrapped DEK");
  }
  return KeyRow{static_cast<uint32_t>(row.Int(0)),
                WrappedKey{row.Text(1), static_cast<uint32_t>(row.Int(2)), std::move(*ciphertext)},
                row.Text(3)};
}

// The newest DEK row of `project`, or the row of `dek_version` when given; nullopt if absent.
Result<std::optional<KeyRow>> LoadKeyRow(storage::MetadataStore& store, std::string_view project,
                                         std::optional<uint32_t> dek_version) {
  std::optional<KeyRow> found;
  FALAJ_RETURN_IF_ERROR(store.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        std::string sql(kKeyColumns);
        std::vector<storage::SqlValue> params{std::string(project)};
        if (dek_version) {
          sql += " AND dek_version = ?";
          params.emplace_back(int64_t{*dek_version});
        } else {
          sql += " ORDER BY dek_version DESC LIMIT 1";
        }
        auto rows = tx.Query(sql, params);
        if (!rows) return std::unexpected(rows.error());
        if (rows->empty()) return Ok();
        auto row = ToKeyRow(rows->front());
        if (!row) return std::unexpected(row.error());
        found = std::move(*row);
        return Ok();
      }));
  return found;
}

}  // namespace

std::string EnvelopeAad(std::string_view prefix, const EnvelopeContext& context) {
  std::string aad(kEnvelopeLabel);
  AppendField(&aad, prefix);
  AppendField(&aad, context.project);
  AppendField(&aad, context.region);
  AppendField(&aad, context.object_id);
  return aad;
}

const storage::MigrationSet& ProjectKeyring::Migrations() {
  static const storage::MigrationSet kSet{
      "project_keys",
      {{1, "create project_keys",
        "CREATE TABLE project_keys (project TEXT NOT NULL, dek_version BIGINT NOT NULL, "
        "kek_id TEXT NOT NULL, kek_version BIGINT NOT NULL, wrapped_dek TEXT NOT NULL, "
        "created_at_ms BIGINT NOT NULL, PRIMARY KEY (project, dek_version))"}}};
  return kSet;
}

ProjectKeyring::ProjectKeyring(storage::MetadataStore& store, KeyEncryptionKeyProvider& kek,
                               const Clock& clock)
    : store_(store), kek_(kek), clock_(clock) {}

ProjectKeyring::~ProjectKeyring() { ClearCache(); }

void ProjectKeyring::ClearCache() {
  std::unique_lock lock(mutex_);
  for (auto& [project, keys] : projects_) {
    for (auto& [version, dek] : keys.deks) Wipe(dek);
  }
  projects_.clear();
}

void ProjectKeyring::Remember(std::string_view project, uint32_t dek_version,
                              const std::string& dek, bool current) {
  std::unique_lock lock(mutex_);
  auto entry = projects_.find(project);
  if (entry == projects_.end())
    entry = projects_.emplace(std::string(project), ProjectKeys{}).first;
  entry->second.deks.emplace(dek_version, dek);
  if (current && dek_version > entry->second.current) entry->second.current = dek_version;
}

Result<std::string> ProjectKeyring::Unwrap(std::string_view project, uint32_t dek_version,
                                           const WrappedKey& wrapped) {
  auto dek = kek_.Unwrap(wrapped, DekAad(project, dek_version));
  if (!dek) {
    return MakeError(dek.error().code, "data key v{} of project '{}': {}", dek_version, project,
                     dek.error().message);
  }
  if (dek->size() != kAeadKeySize) {
    Wipe(*dek);
    return MakeError(ErrorCode::kDataLoss, "data key v{} of project '{}' has the wrong size",
                     dek_version, project);
  }
  return dek;
}

Result<std::string> ProjectKeyring::CreateKey(std::string_view project, uint32_t dek_version) {
  std::string dek = NewAeadKey();
  auto wrapped = kek_.Wrap(dek, DekAad(project, dek_version));
  if (!wrapped) {
    Wipe(dek);
    return std::unexpected(wrapped.error());
  }
  Status inserted = store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO project_keys (project, dek_version, kek_id, kek_version, wrapped_dek, "
            "created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            {std::string(project), int64_t{dek_version}, wrapped->kek_id,
             int64_t{wrapped->kek_version}, Base64UrlEncode(wrapped->ciphertext),
             ToUnixMillis(clock_.Now())});
      });
  if (!inserted) {
    Wipe(dek);
    return std::unexpected(inserted.error());
  }
  return dek;
}

Result<std::pair<uint32_t, std::string>> ProjectKeyring::CurrentKey(std::string_view project) {
  FALAJ_RETURN_IF_ERROR(CheckProject(project));
  {
    std::shared_lock lock(mutex_);
    auto entry = projects_.find(project);
    if (entry != projects_.end() && entry->second.current != 0) {
      return std::pair{entry->second.current, entry->second.deks.at(entry->second.current)};
    }
  }
  auto row = LoadKeyRow(store_, project, std::nullopt);
  if (!row) return std::unexpected(row.error());
  if (!*row) {
    auto created = CreateKey(project, 1);
    if (created) {
      Remember(project, 1, *created, /*current=*/true);
      return std::pair{uint32_t{1}, std::move(*created)};
    }
    // Another thread or process created it first: use theirs.
    if (created.error().code != ErrorCode::kAlreadyExists) return std::unexpected(created.error());
    row = LoadKeyRow(store_, project, std::nullopt);
    if (!row) return std::unexpected(row.error());
    if (!*row) return MakeError(ErrorCode::kInternal, "data key of '{}' vanished", project);
  }
  auto dek = Unwrap(project, (*row)->dek_version, (*row)->wrapped);
  if (!dek) return std::unexpected(dek.error());
  Remember(project, (*row)->dek_version, *dek, /*current=*/true);
  return std::pair{(*row)->dek_version, std::move(*dek)};
}

Result<std::string> ProjectKeyring::KeyForVersion(std::string_view project, uint32_t dek_version) {
  FALAJ_RETURN_IF_ERROR(CheckProject(project));
  {
    std::shared_lock lock(mutex_);
    auto entry = projects_.find(project);
    if (entry != projects_.end()) {
      auto dek = entry->second.deks.find(dek_version);
      if (dek != entry->second.deks.end()) return dek->second;
    }
  }
  auto row = LoadKeyRow(store_, project, dek_version);
  if (!row) return std::unexpected(row.error());
  if (!*row) {
    return MakeError(ErrorCode::kDataLoss, "envelope names data key v{}, which project '{}' lacks",
                     dek_version, project.substr(0, 128));
  }
  auto dek = Unwrap(project, dek_version, (*row)->wrapped);
  if (!dek) return std::unexpected(dek.error());
  Remember(project, dek_version, *dek, /*current=*/false);
  return dek;
}

Result<std::string> ProjectKeyring::Encrypt(std::string_view project, std::string_view region,
                                            std::string_view object_id,
                                            std::string_view plaintext) {
  auto key = CurrentKey(project);
  if (!key) return std::unexpected(key.error());
  std::string envelope = Prefix(EnvelopeAlgorithm::kOneShot, key->first);
  auto sealed =
      AeadSeal(key->second, plaintext, EnvelopeAad(envelope, {project, region, object_id}));
  Wipe(key->second);
  if (!sealed) return std::unexpected(sealed.error());
  return envelope + *sealed;
}

Result<std::string> ProjectKeyring::Decrypt(std::string_view project, std::string_view region,
                                            std::string_view object_id, std::string_view envelope) {
  EnvelopeContext context{project, region, object_id};
  auto prefix = ParsePrefix(envelope);
  if (!prefix) return Annotate(prefix.error(), context);
  if (prefix->algorithm == EnvelopeAlgorithm::kStream) {
    auto opener = NewOpener(context);
    std::string plaintext;
    Status opened = opener->Update(envelope, &plaintext);
    if (opened) opened = opener->Finish(&plaintext);
    if (!opened) {
      Wipe(plaintext);
      return std::unexpected(opened.error());
    }
    return plaintext;
  }
  auto dek = KeyForVersion(project, prefix->dek_version);
  if (!dek) return std::unexpected(dek.error());
  std::string_view header = envelope.substr(0, kEnvelopePrefixSize);
  auto plaintext =
      AeadOpen(*dek, envelope.substr(kEnvelopePrefixSize), EnvelopeAad(header, context));
  Wipe(*dek);
  if (!plaintext) return Annotate(plaintext.error(), context);
  return plaintext;
}

Result<std::unique_ptr<EnvelopeSealer>> ProjectKeyring::NewSealer(const EnvelopeContext& context,
                                                                  size_t segment_size) {
  auto key = CurrentKey(context.project);
  if (!key) return std::unexpected(key.error());
  std::string prefix = Prefix(EnvelopeAlgorithm::kStream, key->first);
  auto stream = StreamSealer::Create(key->second, EnvelopeAad(prefix, context), segment_size);
  Wipe(key->second);
  if (!stream) return std::unexpected(stream.error());
  return std::unique_ptr<EnvelopeSealer>(
      new EnvelopeSealer(std::move(prefix), key->first, std::move(*stream)));
}

std::unique_ptr<EnvelopeOpener> ProjectKeyring::NewOpener(const EnvelopeContext& context) {
  return std::unique_ptr<EnvelopeOpener>(new EnvelopeOpener(*this, context));
}

Result<uint32_t> ProjectKeyring::RotateDataKey(std::string_view project) {
  FALAJ_RETURN_IF_ERROR(CheckProject(project));
  auto row = LoadKeyRow(store_, project, std::nullopt);
  if (!row) return std::unexpected(row.error());
  uint32_t next = *row ? (*row)->dek_version + 1 : 1;
  auto created = CreateKey(project, next);
  if (!created) return std::unexpected(created.error());
  Remember(project, next, *created, /*current=*/true);
  Wipe(*created);
  return next;
}

Status ProjectKeyring::RewrapAll() {
  const std::string kek_id = kek_.kek_id();
  const uint32_t current = kek_.current_version();
  std::vector<std::pair<std::string, KeyRow>> stale;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query(
            "SELECT dek_version, kek_id, kek_version, wrapped_dek, project FROM project_keys "
            "WHERE kek_id <> ? OR kek_version < ? ORDER BY project, dek_version",
            {kek_id, int64_t{current}});
        if (!rows) return std::unexpected(rows.error());
        for (const auto& row : *rows) {
          auto key_row = ToKeyRow(row);
          if (!key_row) return std::unexpected(key_row.error());
          stale.emplace_back(row.Text(4), std::move(*key_row));
        }
        return Ok();
      }));
  // KMS calls run outside any transaction, so a slow KMS never holds a write lock; the UPDATE
  // only applies if the row still holds what was read.
  size_t failed = 0;
  std::optional<Error> first_error;
  for (const auto& [project, row] : stale) {
    Status done = [&]() -> Status {
      auto rewrapped = kek_.Rewrap(row.wrapped, DekAad(project, row.dek_version));
      if (!rewrapped) return std::unexpected(rewrapped.error());
      return store_.RunTransaction(
          storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
            return tx.Run(
                "UPDATE project_keys SET kek_id = ?, kek_version = ?, wrapped_dek = ? "
                "WHERE project = ? AND dek_version = ? AND wrapped_dek = ?",
                {rewrapped->kek_id, int64_t{rewrapped->kek_version},
                 Base64UrlEncode(rewrapped->ciphertext), project, int64_t{row.dek_version},
                 row.stored});
          });
    }();
    if (!done) {
      ++failed;
      if (!first_error) {
        first_error =
            Error{done.error().code, fmt::format("data key v{} of project '{}': {}",
                                                 row.dek_version, project, done.error().message)};
      }
    }
  }
  if (first_error) {
    return MakeError(first_error->code, "rewrapping failed for {} of {} data keys; first: {}",
                     failed, stale.size(), first_error->message);
  }
  return Ok();
}

void EnvelopeSealer::EmitPrefix(std::string* out) {
  if (prefix_emitted_) return;
  out->append(prefix_);
  prefix_emitted_ = true;
}

Status EnvelopeSealer::Update(std::string_view plaintext, std::string* out) {
  EmitPrefix(out);
  return stream_->Update(plaintext, out);
}

Status EnvelopeSealer::Finish(std::string* out) {
  EmitPrefix(out);
  return stream_->Finish(out);
}

EnvelopeOpener::EnvelopeOpener(ProjectKeyring& keyring, EnvelopeContext context)
    : keyring_(keyring),
      project_(context.project),
      region_(context.region),
      object_id_(context.object_id) {}

Status EnvelopeOpener::Update(std::string_view envelope, std::string* out) {
  EnvelopeContext context{project_, region_, object_id_};
  if (stream_ == nullptr) {
    size_t take = std::min(envelope.size(), kEnvelopePrefixSize - prefix_.size());
    prefix_.append(envelope.substr(0, take));
    envelope.remove_prefix(take);
    if (prefix_.size() < kEnvelopePrefixSize) return Ok();
    auto parsed = ParsePrefix(prefix_);
    if (!parsed) return Annotate(parsed.error(), context);
    if (parsed->algorithm != EnvelopeAlgorithm::kStream) {
      return Annotate({ErrorCode::kDataLoss, "expected a stream envelope"}, context);
    }
    auto dek = keyring_.KeyForVersion(project_, parsed->dek_version);
    if (!dek) return std::unexpected(dek.error());
    auto stream = StreamOpener::Create(*dek, EnvelopeAad(prefix_, context));
    Wipe(*dek);
    if (!stream) return std::unexpected(stream.error());
    stream_ = std::move(*stream);
  }
  Status updated = stream_->Update(envelope, out);
  if (!updated) return Annotate(updated.error(), context);
  return Ok();
}

Status EnvelopeOpener::Finish(std::string* out) {
  EnvelopeContext context{project_, region_, object_id_};
  if (stream_ == nullptr) {
    return Annotate({ErrorCode::kDataLoss, "envelope is truncated: incomplete header"}, context);
  }
  Status finished = stream_->Finish(out);
  if (!finished) return Annotate(finished.error(), context);
  return Ok();
}

}  // namespace falaj::security
