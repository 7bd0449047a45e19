// The audit trail read straight from a server's data directory, without a server: the chain
// check of `falaj audit verify --data-dir` and the JSON Lines of `falaj audit export`. Opens
// sqlite://<dir>/falaj.db and never creates it; takes the public key from
// <dir>/audit_signing_key.pem (SigningKey::Load, never LoadOrCreate) unless one is given. Nothing
// is written to the audit tables. Single-threaded.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "common/result.h"
#include "security/audit_log.h"

namespace falaj::cli {

// Verifies the chain and its signed checkpoints. `public_key` is 64 hex characters or a PEM
// public key; empty means the key of <dir>/audit_signing_key.pem. Returns the report with the
// members of GET /api/v1/audit/verify (ok, entries, …, reason, public_key). An error means the
// check could not run: NOT_FOUND when the database or key file is missing, INVALID_ARGUMENT for
// a malformed key, FAILED_PRECONDITION for a key file others can read or an audit schema this
// binary does not know, or the store's error.
Result<nlohmann::json> VerifyAuditDataDir(const std::string& data_dir,
                                          const std::string& public_key);

// Writes the entries that match `query` to `out`, oldest first, one JSON object per line
// (AuditLog::ExportJsonLines). Errors as for VerifyAuditDataDir, or INTERNAL if writing fails.
Status ExportAuditDataDir(const std::string& data_dir, const security::AuditQuery& query,
                          std::ostream& out);

}  // namespace falaj::cli
