// Projects: the tenant and residency boundary. Every stored object belongs to a project, and
// every project is pinned to one region chosen at creation (immutable afterwards, because data
// already stored there must not silently change jurisdiction).
//
// Thread-safety: ProjectService is thread-safe once constructed; register ownership checks
// before the server starts serving.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::projects {

struct Project {
  std::string name;
  std::string description;
  std::string region;
  std::map<std::string, std::string> labels;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct ProjectUpdate {
  std::optional<std::string> description;
  std::optional<std::map<std::string, std::string>> labels;
};

// Counts the resources of one kind that a project owns, inside the deleting transaction.
using OwnershipCheck =
    std::function<Result<int64_t>(storage::Transaction& tx, std::string_view project)>;

class ProjectService {
 public:
  // `storage_region` is where this deployment stores data; when set, a project pinned to another
  // region is refused, since its data would be stored outside its region.
  ProjectService(storage::MetadataStore& store, std::vector<std::string> regions,
                 std::string storage_region = "")
      : store_(store), regions_(std::move(regions)), storage_region_(std::move(storage_region)) {}

  static const storage::MigrationSet& Migrations();

  // Called by every module that stores project-owned resources, so that a project that still
  // owns some cannot be deleted.
  void RegisterOwnershipCheck(std::string resource_kind, OwnershipCheck check);

  // INVALID_ARGUMENT for a bad name, region or label; ALREADY_EXISTS for a taken name;
  // FAILED_PRECONDITION for a region other than the storage region.
  Result<Project> Create(Project project);
  Result<std::vector<Project>> List();
  Result<Project> Get(std::string_view name);
  Result<Project> Update(std::string_view name, const ProjectUpdate& update);
  // FAILED_PRECONDITION naming the resource kind while the project owns resources.
  Status Delete(std::string_view name);

  // Name rule: a lowercase DNS label (RFC 1123), 1–63 characters.
  static Status ValidateName(std::string_view name);

 private:
  Status ValidateRegion(std::string_view region) const;

  storage::MetadataStore& store_;
  const std::vector<std::string> regions_;
  const std::string storage_region_;
  std::vector<std::pair<std::string, OwnershipCheck>> ownership_checks_;  // fixed before serving
};

}  // namespace falaj::projects
