#include "projects/project_service.h"

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace falaj::projects {
namespace {

constexpr size_t kMaxDescriptionLength = 4096;
constexpr size_t kMaxLabels = 64;
constexpr size_t kMaxLabelKeyLength = 63;
constexpr size_t kMaxLabelValueLength = 256;

Status ValidateDescription(std::string_view description) {
  if (description.size() > kMaxDescriptionLength) {
    return MakeError(ErrorCode::kInvalidArgument, "description is longer than {} bytes",
                     kMaxDescriptionLength);
  }
  return Ok();
}

Status ValidateLabels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return MakeError(ErrorCode::kInvalidArgument, "at most {} labels are allowed", kMaxLabels);
  }
  for (const auto& [key, value] : labels) {
    bool key_ok = !key.empty() && key.size() <= kMaxLabelKeyLength;
    for (char c : key) {
      key_ok = key_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '_' || c == '.' || c == '/');
    }
    if (!key_ok) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "label key '{}' must be 1-{} characters of a-z, 0-9, '-', '_', '.', '/'",
                       key, kMaxLabelKeyLength);
    }
    if (value.size() > kMaxLabelValueLength) {
      return MakeError(ErrorCode::kInvalidArgument, "label '{}' value is longer than {} bytes", key,
                       kMaxLabelValueLength);
    }
  }
  return Ok();
}

std::string LabelsToJson(const std::map<std::string, std::string>& labels) {
  return nlohmann::json(labels).dump();
}

Project ProjectFromRow(const storage::Row& row) {
  Project project;
  project.name = row.Text(0);
  project.description = row.Text(1);
  project.region = row.Text(2);
  project.labels = nlohmann::json::parse(row.Text(3)).get<std::map<std::string, std::string>>();
  project.created_at_ms = row.Int(4);
  project.updated_at_ms = row.Int(5);
  return project;
}

constexpr std::string_view kSelectColumns =
    "SELECT name, description, region, labels, created_at_ms, updated_at_ms FROM projects";

Result<std::optional<Project>> FindProject(storage::Transaction& tx, std::string_view name) {
  auto rows = tx.Query(std::string(kSelectColumns) + " WHERE name = ?", {std::string(name)});
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<Project>();
  return std::optional<Project>(ProjectFromRow(rows->front()));
}

Error NotFound(std::string_view name) {
  return Error{ErrorCode::kNotFound, fmt::format("project '{}' not found", name)};
}

}  // namespace

const storage::MigrationSet& ProjectService::Migrations() {
  static const storage::MigrationSet kSet{
      "projects",
      {{1, "create projects",
        "CREATE TABLE projects (name TEXT PRIMARY KEY, description TEXT NOT NULL, region TEXT "
        "NOT NULL, labels TEXT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT "
        "NOT NULL)"}}};
  return kSet;
}

void ProjectService::RegisterOwnershipCheck(std::string resource_kind, OwnershipCheck check) {
  ownership_checks_.emplace_back(std::move(resource_kind), std::move(check));
}

Status ProjectService::ValidateName(std::string_view name) {
  bool valid = !name.empty() && name.size() <= 63 && name.front() != '-' && name.back() != '-';
  for (char c : name)
    valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!valid) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "project name '{}' must be a lowercase DNS label: 1-63 characters of a-z, "
                     "0-9 and '-', not starting or ending with '-'",
                     name.substr(0, 80));
  }
  return Ok();
}

Status ProjectService::ValidateRegion(std::string_view region) const {
  for (const auto& allowed : regions_) {
    if (allowed == region) return Ok();
  }
  std::string known;
  for (const auto& allowed : regions_) known += (known.empty() ? "" : ", ") + allowed;
  return MakeError(ErrorCode::kInvalidArgument, "region '{}' is not one of: {}",
                   region.substr(0, 80), known);
}

Result<Project> ProjectService::Create(Project project) {
  FALAJ_RETURN_IF_ERROR(ValidateName(project.name));
  FALAJ_RETURN_IF_ERROR(ValidateRegion(project.region));
  if (!storage_region_.empty() && project.region != storage_region_) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "project region '{}' differs from this deployment's storage region '{}': "
                     "its data would be stored outside its region",
                     project.region, storage_region_);
  }
  FALAJ_RETURN_IF_ERROR(ValidateDescription(project.description));
  FALAJ_RETURN_IF_ERROR(ValidateLabels(project.labels));
  project.created_at_ms = project.updated_at_ms = ToUnixMillis(SystemClock::Instance().Now());
  Status inserted =
      store_.RunTransaction(storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
        return tx.Run(
            "INSERT INTO projects (name, description, region, labels, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            {project.name, project.description, project.region, LabelsToJson(project.labels),
             project.created_at_ms, project.updated_at_ms});
      });
  if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, "project '{}' already exists", project.name);
  }
  if (!inserted) return std::unexpected(inserted.error());
  return project;
}

Result<std::vector<Project>> ProjectService::List() {
  std::vector<Project> projects;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        auto rows = tx.Query(std::string(kSelectColumns) + " ORDER BY name");
        if (!rows) return std::unexpected(rows.error());
        for (const auto& row : *rows) projects.push_back(ProjectFromRow(row));
        return Ok();
      }));
  return projects;
}

Result<Project> ProjectService::Get(std::string_view name) {
  std::optional<Project> found;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(storage::TransactionMode::kReadOnly,
                                              [&](storage::Transaction& tx) -> Status {
                                                auto project = FindProject(tx, name);
                                                if (!project)
                                                  return std::unexpected(project.error());
                                                found = std::move(*project);
                                                return Ok();
                                              }));
  if (!found) return std::unexpected(NotFound(name));
  return std::move(*found);
}

Result<Project> ProjectService::Update(std::string_view name, const ProjectUpdate& update) {
  if (update.description) FALAJ_RETURN_IF_ERROR(ValidateDescription(*update.description));
  if (update.labels) FALAJ_RETURN_IF_ERROR(ValidateLabels(*update.labels));
  Project project;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        auto found = FindProject(tx, name);
        if (!found) return std::unexpected(found.error());
        if (!found->has_value()) return std::unexpected(NotFound(name));
        project = std::move(**found);
        if (update.description) project.description = *update.description;
        if (update.labels) project.labels = *update.labels;
        project.updated_at_ms = ToUnixMillis(SystemClock::Instance().Now());
        return tx.Run(
            "UPDATE projects SET description = ?, labels = ?, updated_at_ms = ? WHERE name = ?",
            {project.description, LabelsToJson(project.labels), project.updated_at_ms,
             project.name});
      }));
  return project;
}

Status ProjectService::Delete(std::string_view name) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        for (const auto& [kind, check] : ownership_checks_) {
          auto owned = check(tx, name);
          if (!owned) return std::unexpected(owned.error());
          if (*owned > 0) {
            return MakeError(ErrorCode::kFailedPrecondition,
                             "project '{}' still owns {} {}; delete them first", name, *owned,
                             kind);
          }
        }
        auto deleted = tx.Execute("DELETE FROM projects WHERE name = ?", {std::string(name)});
        if (!deleted) return std::unexpected(deleted.error());
        if (*deleted == 0) return std::unexpected(NotFound(name));
        return Ok();
      });
}

}  // namespace falaj::projects
