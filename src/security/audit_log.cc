#include "security/audit_log.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/encoding.h"

namespace falaj::security {
namespace {

using storage::Row;
using storage::SqlValue;
using storage::Transaction;
using storage::TransactionMode;

constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr std::string_view kRecordDomain = "falaj.audit.v1";
constexpr std::string_view kNoteOrigin = "falaj-audit";
// A racing append on a backend that does not serialise writers loses on the unique seq and
// retries against the new head.
constexpr int kAppendAttempts = 5;
constexpr int kPageRows = 1000;

constexpr std::string_view kEntryColumns =
    "seq, time_ms, request_id, principal, action, method, resource, status, source, outcome, "
    "prev_hash, hash";

struct StoredEntry {
  int64_t seq = 0;
  AuditRecord record;
  std::string prev_hash;
  std::string hash;
};

StoredEntry EntryFromRow(const Row& row) {
  return {row.Int(0),
          {row.Int(1), row.Text(2), row.Text(3), row.Text(4), row.Text(5), row.Text(6),
           static_cast<int>(row.Int(7)), row.Text(8), row.Text(9)},
          row.Text(10),
          row.Text(11)};
}

void AppendField(std::string& out, std::string_view field) {
  uint64_t size = field.size();
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((size >> shift) & 0xff));
  }
  out.append(field);
}

std::optional<std::string> HexDecode(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int high = nibble(hex[i]);
    int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>((high << 4) | low));
  }
  return out;
}

std::string Range(int64_t first, int64_t last) {
  return first == last ? fmt::format("entry {}", first)
                       : fmt::format("entries {}..{}", first, last);
}

// The WHERE clause and its parameters for the filters of `query` (limit excluded).
struct Filter {
  std::string where = "1 = 1";
  std::vector<SqlValue> params;
};

Filter MakeFilter(const AuditQuery& query) {
  Filter filter;
  if (query.from_ms) {
    filter.where += " AND time_ms >= ?";
    filter.params.emplace_back(*query.from_ms);
  }
  if (query.to_ms) {
    filter.where += " AND time_ms < ?";
    filter.params.emplace_back(*query.to_ms);
  }
  if (query.principal) {
    filter.where += " AND principal = ?";
    filter.params.emplace_back(*query.principal);
  }
  if (query.resource_prefix) {
    // Not LIKE: '%' and '_' in a path must match literally.
    filter.where += " AND substr(resource, 1, length(?)) = ?";
    filter.params.emplace_back(*query.resource_prefix);
    filter.params.emplace_back(*query.resource_prefix);
  }
  if (!query.resource_scopes.empty()) {
    std::string any;
    for (const auto& scope : query.resource_scopes) {
      any += any.empty() ? "" : " OR ";
      any += "resource = ? OR substr(resource, 1, length(?)) = ?";
      filter.params.emplace_back(scope);
      filter.params.emplace_back(scope + "/");
      filter.params.emplace_back(scope + "/");
    }
    filter.where += " AND (" + any + ")";
  }
  return filter;
}

std::string JsonLine(const StoredEntry& entry) {
  nlohmann::ordered_json line = {{"seq", entry.seq},
                                 {"time_ms", entry.record.time_ms},
                                 {"request_id", entry.record.request_id},
                                 {"principal", entry.record.principal},
                                 {"action", entry.record.action},
                                 {"method", entry.record.method},
                                 {"resource", entry.record.resource},
                                 {"status", entry.record.status},
                                 {"source", entry.record.source},
                                 {"outcome", entry.record.outcome},
                                 {"prev_hash", entry.prev_hash},
                                 {"hash", entry.hash}};
  // ASCII-only output escapes control characters, U+2028/2029 and bidi overrides; invalid UTF-8
  // becomes U+FFFD instead of throwing.
  return line.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

// Checks entries fed in seq order against each other and against the signed checkpoints;
// remembers the first failure.
class ChainVerifier {
 public:
  ChainVerifier(std::string_view public_key, std::vector<AuditCheckpoint> checkpoints)
      : public_key_(public_key),
        key_id_(Ed25519KeyId(public_key)),
        checkpoints_(std::move(checkpoints)) {}

  // False once verification has failed.
  bool Add(const StoredEntry& entry) {
    if (!CheckSequence(entry) || !CheckLink(entry) || !CheckCheckpoints(entry)) return false;
    ++report_.entries;
    report_.last_seq = entry.seq;
    report_.head_hash = entry.hash;
    prev_prev_hash_ = std::move(prev_hash_);
    prev_hash_ = entry.hash;
    prev_seq_ = entry.seq;
    return true;
  }

  AuditVerifyReport Finish() {
    if (report_.ok && next_checkpoint_ < checkpoints_.size()) {
      const AuditCheckpoint& checkpoint = checkpoints_[next_checkpoint_];
      if (SignatureValid(checkpoint)) {
        Fail(prev_seq_ + 1, fmt::format("{} missing (the log ends at {}, but checkpoint at {} "
                                        "signed it)",
                                        Range(prev_seq_ + 1, checkpoint.last_seq), prev_seq_,
                                        checkpoint.last_seq));
      } else {
        FailSignature(checkpoint);
      }
    }
    report_.unanchored = report_.last_seq - report_.last_checkpoint_seq;
    return std::move(report_);
  }

 private:
  bool CheckSequence(const StoredEntry& entry) {
    if (entry.seq <= 0) {
      return Fail(entry.seq, fmt::format("entry {} inserted or reordered (seq precedes the start "
                                         "of the log)",
                                         entry.seq));
    }
    if (entry.seq == prev_seq_ + 1) return true;
    std::string missing = Range(prev_seq_ + 1, entry.seq - 1);
    if (prev_seq_ == 0) {
      return Fail(1, fmt::format("{} missing (the log starts at {})", missing, entry.seq));
    }
    return Fail(prev_seq_ + 1,
                fmt::format("{} missing (gap between {} and {})", missing, prev_seq_, entry.seq));
  }

  bool CheckLink(const StoredEntry& entry) {
    if (entry.hash.empty()) {
      return Fail(entry.seq, fmt::format("entry {} has no hash (written before the chain existed)",
                                         entry.seq));
    }
    if (entry.prev_hash != prev_hash_) {
      // Linking to the entry before the previous one means the previous one was slipped in.
      if (prev_seq_ >= 1 && entry.prev_hash == prev_prev_hash_) {
        return Fail(prev_seq_,
                    fmt::format("entry {} inserted or reordered (entry {}'s prev_hash links to "
                                "entry {})",
                                prev_seq_, entry.seq, prev_seq_ - 1));
      }
      return Fail(entry.seq, fmt::format("entry {} inserted or reordered (prev_hash does not link)",
                                         entry.seq));
    }
    if (AuditLog::ChainHash(entry.prev_hash, entry.seq, entry.record) != entry.hash) {
      return Fail(entry.seq, fmt::format("entry {} was modified (hash mismatch)", entry.seq));
    }
    return true;
  }

  bool CheckCheckpoints(const StoredEntry& entry) {
    while (next_checkpoint_ < checkpoints_.size()) {
      const AuditCheckpoint& checkpoint = checkpoints_[next_checkpoint_];
      if (checkpoint.last_seq > entry.seq) return true;
      if (!SignatureValid(checkpoint)) return FailSignature(checkpoint);
      if (checkpoint.last_seq < entry.seq) {
        return Fail(checkpoint.last_seq,
                    fmt::format("checkpoint at {} references an entry that does not exist",
                                checkpoint.last_seq));
      }
      if (checkpoint.head_hash != entry.hash) {
        return Fail(entry.seq,
                    fmt::format("checkpoint at {} does not match the chain", checkpoint.last_seq));
      }
      ++report_.checkpoints;
      report_.last_checkpoint_seq = checkpoint.last_seq;
      ++next_checkpoint_;
    }
    return true;
  }

  bool SignatureValid(const AuditCheckpoint& checkpoint) const {
    std::string note = AuditLog::CheckpointNote(checkpoint.last_seq, checkpoint.head_hash,
                                                checkpoint.signed_at_ms);
    return VerifyEd25519(public_key_, note, checkpoint.signature);
  }

  bool FailSignature(const AuditCheckpoint& checkpoint) {
    std::string reason =
        fmt::format("checkpoint at {} has an invalid signature", checkpoint.last_seq);
    if (checkpoint.key_id != key_id_) {
      reason +=
          fmt::format(" (signed by key {}, verified with key {})", checkpoint.key_id, key_id_);
    }
    return Fail(checkpoint.last_seq, std::move(reason));
  }

  bool Fail(int64_t seq, std::string reason) {
    report_.ok = false;
    report_.first_bad_seq = seq;
    report_.reason = std::move(reason);
    return false;
  }

  std::string public_key_;
  std::string key_id_;
  std::vector<AuditCheckpoint> checkpoints_;  // ascending last_seq
  size_t next_checkpoint_ = 0;
  int64_t prev_seq_ = 0;
  std::string prev_hash_{kGenesisHash};
  std::string prev_prev_hash_;
  AuditVerifyReport report_;
};

AuditCheckpoint CheckpointFromRow(const Row& row) {
  return {row.Int(0), row.Text(1), row.Int(2), row.Text(3),
          HexDecode(row.Text(4)).value_or(std::string())};
}

constexpr std::string_view kCheckpointColumns =
    "last_seq, head_hash, signed_at_ms, key_id, signature";

}  // namespace

struct AuditLog::Head {
  int64_t seq = 0;
  std::string hash;
};

AuditLog::AuditLog(storage::MetadataStore& store, const SigningKey* signing_key,
                   AuditCheckpointPolicy policy, const Clock& clock)
    : store_(store),
      signing_key_(signing_key),
      policy_(policy),
      clock_(clock),
      created_ms_(ToUnixMillis(clock.Now())) {}

const storage::MigrationSet& AuditLog::Migrations() {
  static const storage::MigrationSet kSet{
      "audit",
      {{1, "create audit_events",
        "CREATE TABLE audit_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms BIGINT NOT "
        "NULL, request_id TEXT NOT NULL, principal TEXT NOT NULL, action TEXT NOT NULL, method "
        "TEXT NOT NULL, resource TEXT NOT NULL, status INTEGER NOT NULL)"},
       {2, "hash chain and signed checkpoints",
        "ALTER TABLE audit_events ADD COLUMN source TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE audit_events ADD COLUMN outcome TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';"
        "CREATE INDEX audit_events_time_ms ON audit_events (time_ms);"
        "CREATE TABLE audit_checkpoints (seq INTEGER PRIMARY KEY, last_seq BIGINT NOT NULL "
        "UNIQUE, head_hash TEXT NOT NULL, signed_at_ms BIGINT NOT NULL, key_id TEXT NOT NULL, "
        "signature TEXT NOT NULL)"}}};
  return kSet;
}

std::string AuditLog::CheckpointNote(int64_t last_seq, std::string_view head_hash,
                                     int64_t signed_at_ms) {
  return fmt::format("{}\n{}\n{}\n{}\n", kNoteOrigin, last_seq, head_hash, signed_at_ms);
}

std::string AuditLog::CanonicalAuditRecord(int64_t seq, const AuditRecord& record) {
  std::string out;
  AppendField(out, kRecordDomain);
  AppendField(out, std::to_string(seq));
  AppendField(out, std::to_string(record.time_ms));
  for (const std::string* field :
       {&record.request_id, &record.principal, &record.action, &record.method, &record.resource}) {
    AppendField(out, *field);
  }
  AppendField(out, std::to_string(record.status));
  AppendField(out, record.source);
  AppendField(out, record.outcome);
  return out;
}

std::string AuditLog::ChainHash(std::string_view prev_hash, int64_t seq,
                                const AuditRecord& record) {
  Sha256 hash;
  hash.Update(prev_hash);
  hash.Update(CanonicalAuditRecord(seq, record));
  return hash.FinishHex();
}

Status AuditLog::Append(const AuditRecord& record) {
  Status status = Ok();
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    status = AppendOnce(record);
    if (status || status.error().code != ErrorCode::kAlreadyExists) return status;
  }
  return status;
}

Status AuditLog::AppendOnce(const AuditRecord& record) {
  return store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
    auto head = ChainHead(tx);
    if (!head) return std::unexpected(head.error());
    int64_t seq = head->seq + 1;
    std::string hash = ChainHash(head->hash, seq, record);
    FALAJ_RETURN_IF_ERROR(tx.Run(
        "INSERT INTO audit_events (seq, time_ms, request_id, principal, action, method, "
        "resource, status, source, outcome, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?)",
        {seq, record.time_ms, record.request_id, record.principal, record.action, record.method,
         record.resource, int64_t{record.status}, record.source, record.outcome, head->hash,
         hash}));
    if (signing_key_ == nullptr) return Ok();
    auto due = CheckpointDue(tx, seq);
    if (!due) return std::unexpected(due.error());
    return *due ? WriteCheckpoint(tx, seq, hash) : Ok();
  });
}

Result<AuditLog::Head> AuditLog::ChainHead(Transaction& tx) {
  auto rows = tx.Query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return Head{0, std::string(kGenesisHash)};
  if (!rows->at(0).Text(1).empty()) return Head{rows->at(0).Int(0), rows->at(0).Text(1)};

  // Rows from schema v1 carry no hash. Chain them once, but only while nothing was ever chained
  // or signed: a blank hash after that is tampering, and re-chaining would hide it.
  auto chained = tx.Query(
      "SELECT (SELECT COUNT(*) FROM audit_events WHERE hash <> ''), (SELECT COUNT(*) FROM "
      "audit_checkpoints)");
  if (!chained) return std::unexpected(chained.error());
  if (chained->at(0).Int(0) > 0 || chained->at(0).Int(1) > 0) {
    return MakeError(ErrorCode::kDataLoss,
                     "audit entry {} has no hash although the log is chained; run audit verify",
                     rows->at(0).Int(0));
  }
  auto legacy = tx.Query(fmt::format("SELECT {} FROM audit_events ORDER BY seq", kEntryColumns));
  if (!legacy) return std::unexpected(legacy.error());
  Head head{0, std::string(kGenesisHash)};
  for (const Row& row : *legacy) {
    StoredEntry entry = EntryFromRow(row);
    std::string hash = ChainHash(head.hash, entry.seq, entry.record);
    FALAJ_RETURN_IF_ERROR(tx.Run("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                                 {head.hash, hash, entry.seq}));
    head = Head{entry.seq, std::move(hash)};
  }
  return head;
}

Result<bool> AuditLog::CheckpointDue(Transaction& tx, int64_t seq) {
  auto rows = tx.Query(
      "SELECT last_seq, signed_at_ms FROM audit_checkpoints ORDER BY last_seq DESC LIMIT 1");
  if (!rows) return std::unexpected(rows.error());
  int64_t last_seq = rows->empty() ? 0 : rows->at(0).Int(0);
  int64_t since_ms = rows->empty() ? created_ms_ : rows->at(0).Int(1);
  if (policy_.every_entries > 0 && seq - last_seq >= policy_.every_entries) return true;
  return policy_.max_interval.count() > 0 &&
         ToUnixMillis(clock_.Now()) - since_ms >= policy_.max_interval.count();
}

Status AuditLog::WriteCheckpoint(Transaction& tx, int64_t seq, const std::string& hash) {
  int64_t now_ms = ToUnixMillis(clock_.Now());
  std::string signature = signing_key_->Sign(CheckpointNote(seq, hash, now_ms));
  return tx.Run(
      "INSERT INTO audit_checkpoints (last_seq, head_hash, signed_at_ms, key_id, signature) "
      "VALUES (?, ?, ?, ?, ?)",
      {seq, hash, now_ms, signing_key_->KeyId(), HexEncode(signature)});
}

Status AuditLog::Checkpoint() {
  if (signing_key_ == nullptr) {
    return MakeError(ErrorCode::kFailedPrecondition, "the audit log has no signing key");
  }
  return store_.RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
    auto head = ChainHead(tx);
    if (!head) return std::unexpected(head.error());
    if (head->seq == 0) return Ok();
    auto latest = tx.Query("SELECT COALESCE(MAX(last_seq), 0) FROM audit_checkpoints");
    if (!latest) return std::unexpected(latest.error());
    if (latest->at(0).Int(0) >= head->seq) return Ok();
    return WriteCheckpoint(tx, head->seq, head->hash);
  });
}

Result<AuditVerifyReport> AuditLog::Verify(std::string_view public_key_raw) {
  if (public_key_raw.size() != SigningKey::kPublicKeySize) {
    return MakeError(ErrorCode::kInvalidArgument, "an Ed25519 public key has {} bytes, got {}",
                     SigningKey::kPublicKeySize, public_key_raw.size());
  }
  AuditVerifyReport report;
  // One read transaction: a consistent snapshot even while appends continue.
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        auto rows = tx.Query(
            fmt::format("SELECT {} FROM audit_checkpoints ORDER BY last_seq", kCheckpointColumns));
        if (!rows) return std::unexpected(rows.error());
        std::vector<AuditCheckpoint> checkpoints;
        for (const Row& row : *rows) checkpoints.push_back(CheckpointFromRow(row));
        ChainVerifier verifier(public_key_raw, std::move(checkpoints));
        int64_t after = std::numeric_limits<int64_t>::min();
        bool going = true;
        while (going) {
          auto page = tx.Query(fmt::format("SELECT {} FROM audit_events WHERE seq > ? ORDER BY "
                                           "seq LIMIT {}",
                                           kEntryColumns, kPageRows),
                               {after});
          if (!page) return std::unexpected(page.error());
          for (const Row& row : *page) {
            StoredEntry entry = EntryFromRow(row);
            after = entry.seq;
            if (!verifier.Add(entry)) {
              going = false;
              break;
            }
          }
          if (page->size() < static_cast<size_t>(kPageRows)) going = false;
        }
        report = verifier.Finish();
        return Ok();
      }));
  return report;
}

Result<std::vector<AuditRecord>> AuditLog::Query(const AuditQuery& query) {
  int limit = query.limit.value_or(kDefaultQueryLimit);
  if (limit < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "audit query limit must be at least 1, got {}",
                     limit);
  }
  limit = std::min(limit, kMaxQueryLimit);
  Filter filter = MakeFilter(query);
  filter.params.emplace_back(int64_t{limit});
  std::vector<AuditRecord> records;
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        auto rows = tx.Query(fmt::format("SELECT {} FROM audit_events WHERE {} ORDER BY seq DESC "
                                         "LIMIT ?",
                                         kEntryColumns, filter.where),
                             filter.params);
        if (!rows) return std::unexpected(rows.error());
        records.reserve(rows->size());
        for (const Row& row : *rows) records.push_back(EntryFromRow(row).record);
        return Ok();
      }));
  return records;
}

Result<std::vector<AuditRecord>> AuditLog::Recent(int limit) {
  if (limit < 1) return std::vector<AuditRecord>{};
  AuditQuery query;
  query.limit = limit;
  return Query(query);
}

Status AuditLog::ExportJsonLines(std::ostream& out, const AuditQuery& query) {
  if (query.limit && *query.limit < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "audit export limit must be at least 1, got {}",
                     *query.limit);
  }
  int64_t remaining = query.limit.value_or(std::numeric_limits<int>::max());
  Filter filter = MakeFilter(query);
  std::string sql =
      fmt::format("SELECT {} FROM audit_events WHERE {} AND seq > ? ORDER BY seq LIMIT ?",
                  kEntryColumns, filter.where);
  int64_t after = std::numeric_limits<int64_t>::min();
  // Page by page, each in its own short transaction, so a slow reader holds no snapshot open.
  while (remaining > 0) {
    std::vector<SqlValue> params = filter.params;
    params.emplace_back(after);
    params.emplace_back(std::min<int64_t>(remaining, kPageRows));
    size_t fetched = 0;
    FALAJ_RETURN_IF_ERROR(
        store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
          auto rows = tx.Query(sql, params);
          if (!rows) return std::unexpected(rows.error());
          fetched = rows->size();
          for (const Row& row : *rows) {
            StoredEntry entry = EntryFromRow(row);
            after = entry.seq;
            out << JsonLine(entry) << '\n';
          }
          return Ok();
        }));
    if (!out) return MakeError(ErrorCode::kInternal, "writing the audit export failed");
    if (fetched < static_cast<size_t>(std::min<int64_t>(remaining, kPageRows))) break;
    remaining -= static_cast<int64_t>(fetched);
  }
  return Ok();
}

Result<std::optional<AuditCheckpoint>> AuditLog::LatestCheckpoint() {
  std::optional<AuditCheckpoint> latest;
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
        auto rows = tx.Query(fmt::format(
            "SELECT {} FROM audit_checkpoints ORDER BY last_seq DESC LIMIT 1", kCheckpointColumns));
        if (!rows) return std::unexpected(rows.error());
        if (!rows->empty()) latest = CheckpointFromRow(rows->at(0));
        return Ok();
      }));
  return latest;
}

nlohmann::json AuditVerifyReportJson(const AuditVerifyReport& report,
                                     std::string_view public_key_raw) {
  return {{"ok", report.ok},
          {"entries", report.entries},
          {"last_seq", report.last_seq},
          {"head_hash", report.head_hash},
          {"checkpoints", report.checkpoints},
          {"last_checkpoint_seq", report.last_checkpoint_seq},
          {"unanchored", report.unanchored},
          {"first_bad_seq", report.first_bad_seq},
          {"reason", report.reason},
          {"public_key", HexEncode(public_key_raw)}};
}

}  // namespace falaj::security
