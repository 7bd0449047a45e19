// The audit trail: one record per mutation and per refused request (who, what, on which
// resource, when, from where, outcome, request id), appended to the metadata store as a hash
// chain with signed checkpoints, so that editing, deleting, inserting or reordering stored rows
// is detected by Verify().
//
// Chain. Entry seq n (1, 2, 3 … without gaps) stores prev_hash (the hash of entry n-1; for entry
// 1 sixty-four '0' characters) and hash = lowercase hex SHA-256 of
//     prev_hash (64 ASCII hex characters) ‖ CanonicalAuditRecord(n, record)
// where the canonical form is a sequence of fields, each an 8-byte big-endian length followed by
// that many bytes: "falaj.audit.v1", seq, time_ms, request_id, principal, action, method,
// resource, status, source, outcome (integers in decimal ASCII). Anyone holding an export can
// recompute it.
//
// Checkpoints. With a SigningKey, Append() signs the chain head every `every_entries` entries
// and whenever `max_interval` has passed since the previous checkpoint (checked at Append time;
// there is no background thread), in the same transaction as the entry. The signed message is
// the note returned by CheckpointNote(): "falaj-audit\n<last_seq>\n<head hash>\n<signed_at_ms>\n".
// A writer with database access can recompute the chain, but not the signatures: rows after the
// newest checkpoint are "unanchored", and deleting the newest checkpoints together with the tail
// is only detected against a checkpoint kept elsewhere (LatestCheckpoint(), exported off-host).
//
// Thread-safe: all state lives in the MetadataStore; each Append runs in one read-write
// transaction, which serialises appends (and a unique seq makes a racing append retry).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "security/signing_key.h"
#include "storage/metadata_store.h"

namespace falaj::security {

struct AuditRecord {
  int64_t time_ms = 0;
  std::string request_id;
  std::string principal;  // "key:…", or "anonymous" when authentication failed
  std::string action;     // the route's permission, e.g. "projects.write"
  std::string method;     // HTTP method
  std::string resource;   // request path
  int status = 0;         // HTTP status of the answer
  // Initialised explicitly so brace-initialisers that stop at `status` stay warning-free.
  std::string source = {};   // client address
  std::string outcome = {};  // "allowed", "denied" or "failed", set by the caller
};

struct AuditCheckpointPolicy {
  // Sign after this many entries since the previous checkpoint; 0 disables the count rule.
  int64_t every_entries = 1000;
  // Sign at the first append once this much time has passed since the previous checkpoint (or,
  // before the first one, since the AuditLog was created); zero disables the time rule.
  std::chrono::milliseconds max_interval = std::chrono::seconds(60);
};

struct AuditCheckpoint {
  int64_t last_seq = 0;   // the chain is signed up to and including this entry
  std::string head_hash;  // hash of entry last_seq
  int64_t signed_at_ms = 0;
  std::string key_id;     // SigningKey::KeyId() of the signer
  std::string signature;  // 64-byte raw Ed25519 signature of CheckpointNote(...)
};

struct AuditVerifyReport {
  bool ok = true;
  int64_t entries = 0;      // rows examined
  int64_t last_seq = 0;     // highest seq examined
  std::string head_hash;    // hash of the last good entry
  int64_t checkpoints = 0;  // checkpoints whose signature and head were confirmed
  int64_t last_checkpoint_seq = 0;
  int64_t unanchored = 0;     // entries after the newest confirmed checkpoint (not an error)
  int64_t first_bad_seq = 0;  // 0 when ok
  std::string reason;         // empty when ok, e.g. "entry 42 was modified (hash mismatch)"
};

// The report as JSON (the REST answer and `falaj audit verify -o json`), with the hex public key
// it was checked against.
nlohmann::json AuditVerifyReportJson(const AuditVerifyReport& report,
                                     std::string_view public_key_raw);

// Filters for Query() and ExportJsonLines(); every unset filter matches everything.
struct AuditQuery {
  std::optional<int64_t> from_ms;  // time_ms >= from_ms
  std::optional<int64_t> to_ms;    // time_ms < to_ms
  std::optional<std::string> principal;
  std::optional<std::string> resource_prefix;
  // When not empty: only records whose resource is one of these paths or lies below one (the
  // next character is '/'), so that scope "/api/v1/projects/a" never reaches project "ab".
  std::vector<std::string> resource_scopes;
  // Query: at most this many (default 100, at most kMaxQueryLimit). Export: unlimited if unset.
  std::optional<int> limit;
};

class AuditLog {
 public:
  static constexpr int kDefaultQueryLimit = 100;
  static constexpr int kMaxQueryLimit = 1000;

  // `signing_key` (may be null: then no checkpoints are written) and `clock` must outlive the
  // AuditLog.
  explicit AuditLog(storage::MetadataStore& store, const SigningKey* signing_key = nullptr,
                    AuditCheckpointPolicy policy = {},
                    const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();

  // Appends `record` as the next chain entry, and a checkpoint when the policy says one is due.
  // Rows written before the chain existed (schema v1) are chained first, once.
  Status Append(const AuditRecord& record);

  // Signs the current chain head now unless the newest checkpoint already covers it (graceful
  // shutdown). FAILED_PRECONDITION without a signing key; a no-op on an empty log.
  Status Checkpoint();

  // Walks the whole chain in seq order, checking that every hash recomputes, every prev_hash
  // links, seqs are contiguous, and every checkpoint is signed by `public_key_raw` (32 bytes)
  // and matches the chain. Stops at the first failure, reported in the result; an error Result
  // means the check could not run (store error, malformed key).
  Result<AuditVerifyReport> Verify(std::string_view public_key_raw);

  // Matching records, newest first. INVALID_ARGUMENT for a limit below 1; above kMaxQueryLimit
  // the limit is capped.
  Result<std::vector<AuditRecord>> Query(const AuditQuery& query);

  // The newest records first, at most `limit` (capped like Query()).
  Result<std::vector<AuditRecord>> Recent(int limit);

  // Writes the matching entries oldest first as JSON Lines: one object per line with exactly
  // seq, time_ms, request_id, principal, action, method, resource, status, source, outcome,
  // prev_hash, hash. Strings are escaped to ASCII (control and line-separator characters
  // included), so a record cannot forge lines.
  Status ExportJsonLines(std::ostream& out, const AuditQuery& query);

  // The newest checkpoint, if any (to anchor it outside this database).
  Result<std::optional<AuditCheckpoint>> LatestCheckpoint();

  // The exact bytes a checkpoint signs.
  static std::string CheckpointNote(int64_t last_seq, std::string_view head_hash,
                                    int64_t signed_at_ms);
  // The canonical serialisation hashed for entry `seq` (see the top of this file).
  static std::string CanonicalAuditRecord(int64_t seq, const AuditRecord& record);
  // hash of an entry from its prev_hash and canonical form.
  static std::string ChainHash(std::string_view prev_hash, int64_t seq, const AuditRecord& record);

 private:
  struct Head;
  Status AppendOnce(const AuditRecord& record);
  Result<Head> ChainHead(storage::Transaction& tx);
  Status WriteCheckpoint(storage::Transaction& tx, int64_t seq, const std::string& hash);
  Result<bool> CheckpointDue(storage::Transaction& tx, int64_t seq);

  storage::MetadataStore& store_;
  const SigningKey* signing_key_;
  const AuditCheckpointPolicy policy_;
  const Clock& clock_;
  const int64_t created_ms_;
};

}  // namespace falaj::security
