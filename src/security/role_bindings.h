// Role bindings: which subject ("key:…", "user:…", "group:…") holds which role in which project.
// One role per subject and project; setting a binding replaces the previous one.
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::security {

struct RoleBinding {
  std::string project;
  std::string subject;
  std::string role;
  int64_t created_at_ms = 0;
};

class RoleBindingService {
 public:
  explicit RoleBindingService(storage::MetadataStore& store) : store_(store) {}

  static const storage::MigrationSet& Migrations();

  // INVALID_ARGUMENT for an unknown role or a malformed subject.
  Result<RoleBinding> Set(std::string_view project, std::string_view subject,
                          std::string_view role);
  // NOT_FOUND when the subject has no role in the project.
  Status Remove(std::string_view project, std::string_view subject);
  Result<std::vector<RoleBinding>> List(std::string_view project);
  // The roles any of `subjects` holds in `project` (empty when none).
  Result<std::vector<std::string>> RolesOf(std::string_view project,
                                           const std::vector<std::string>& subjects);
  // For the project ownership check: bindings are resources a project owns.
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // Subjects look like "key:<id>", "user:<name>" or "group:<name>": a known kind, then 1–256
  // printable characters without spaces.
  static Status ValidateSubject(std::string_view subject);

  // Changes on every Set or Remove through this service, so caches of RolesOf answers can tell
  // they are stale.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  storage::MetadataStore& store_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace falaj::security
