// The audit trail: one record per mutation and per refused request (who, what, on which
// resource, when, outcome, request id). Records are appended to the metadata store; the hash
// chain and signed checkpoints that make it tamper-evident build on this table (security issue).
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
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
};

class AuditLog {
 public:
  explicit AuditLog(storage::MetadataStore& store) : store_(store) {}

  static const storage::MigrationSet& Migrations();

  Status Append(const AuditRecord& record);

  // The newest records first, at most `limit`.
  Result<std::vector<AuditRecord>> Recent(int limit);

 private:
  storage::MetadataStore& store_;
};

}  // namespace falaj::security
