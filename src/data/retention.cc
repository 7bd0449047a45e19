#include "data/retention.h"

#include <algorithm>
#include <set>

#include "common/logging.h"

namespace falaj::data {
namespace {

using nlohmann::json;

constexpr std::string_view kSchedulePrincipal = "system:retention";
constexpr int64_t kMillisPerDay = 24LL * 3600 * 1000;

Result<int64_t> Days(const json& value, std::string_view field) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
      value.get<int64_t>() > kMaxRetentionDays) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' must be a whole number of days, 0 to {}",
                     field, kMaxRetentionDays);
  }
  return value.get<int64_t>();
}

// The days a version may be kept: the shortest limit of any of its columns, where a column
// carrying classes uses each class's limit (or the default for a class the policy does not
// name) and an unclassified column uses the default. nullopt: kept for ever.
std::optional<int64_t> LimitDays(const RetentionPolicy& policy, const TableSchema& schema) {
  std::optional<int64_t> limit;
  auto tighten = [&limit](std::optional<int64_t> days) {
    if (days && (!limit || *days < *limit)) limit = days;
  };
  for (const auto& column : schema.columns) {
    if (column.tags.empty()) tighten(policy.default_days);
    for (const auto& tag : column.tags) {
      auto found = policy.classes.find(tag);
      tighten(found != policy.classes.end() ? std::optional(found->second) : policy.default_days);
    }
  }
  return limit;
}

void CollectPins(const json& node, const std::string& by, std::vector<DatasetPin>& pins) {
  if (node.is_object()) {
    auto dataset = node.find("dataset");
    auto version = node.find("version");
    if (dataset != node.end() && dataset->is_string() && version != node.end() &&
        version->is_number_integer()) {
      pins.push_back({dataset->get<std::string>(), version->get<int64_t>(), by});
    }
  }
  if (node.is_structured()) {
    for (const auto& child : node) CollectPins(child, by, pins);
  }
}

std::string Resource(std::string_view project, std::string_view dataset, int64_t version) {
  return fmt::format("/api/v1/projects/{}/datasets/{}/versions/{}", project, dataset, version);
}

std::string Rfc3339(int64_t millis) { return FormatRfc3339(FromUnixMillis(millis)); }

}  // namespace

Result<RetentionPolicy> ParseRetentionPolicy(const json& body) {
  if (!body.is_object() || body.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the retention policy must be a JSON object setting 'default_days' and/or "
                     "'classes' (remove a policy with DELETE)");
  }
  RetentionPolicy policy;
  for (const auto& [field, value] : body.items()) {
    if (field == "default_days") {
      if (!value.is_null()) {
        FALAJ_ASSIGN_OR_RETURN(policy.default_days, Days(value, field));
      }
    } else if (field == "classes") {
      if (!value.is_object()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "'classes' must be an object of class → days, e.g. {{\"pii\": 30}}");
      }
      const auto& known = KnownClassifications();
      for (const auto& [name, days] : value.items()) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          return MakeError(ErrorCode::kInvalidArgument, "unknown data class '{}' in 'classes'",
                           name.substr(0, 40));
        }
        FALAJ_ASSIGN_OR_RETURN(policy.classes[name], Days(days, "classes." + name));
      }
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown field '{}' (expected default_days, classes)", field.substr(0, 40));
    }
  }
  return policy;
}

json RetentionPolicyJson(const RetentionPolicy& policy) {
  json out = {{"default_days", nullptr}, {"classes", policy.classes}};
  if (policy.default_days) out["default_days"] = *policy.default_days;
  if (policy.updated_at_ms != 0) {
    out["updated_by"] = policy.updated_by;
    out["updated_at"] = Rfc3339(policy.updated_at_ms);
  }
  return out;
}

std::vector<DatasetPin> PinsInLineage(const json& lineage, const std::string& by) {
  std::vector<DatasetPin> pins;
  CollectPins(lineage, by, pins);
  return pins;
}

RetentionService::RetentionService(storage::MetadataStore& store, DatasetStore& datasets,
                                   ModelPins pins, security::AuditLog& audit, const Clock& clock)
    : store_(store), datasets_(datasets), pins_(std::move(pins)), audit_(audit), clock_(clock) {}

RetentionService::~RetentionService() = default;

const storage::MigrationSet& RetentionService::Migrations() {
  static const storage::MigrationSet kSet{
      "retention",
      {{1, "create retention policies and last runs",
        "CREATE TABLE retention_policies (project TEXT PRIMARY KEY, policy TEXT NOT NULL, "
        "updated_by TEXT NOT NULL, updated_at_ms BIGINT NOT NULL); "
        "CREATE TABLE retention_runs (project TEXT PRIMARY KEY, report TEXT NOT NULL)"}}};
  return kSet;
}

Result<int64_t> RetentionService::CountInProject(storage::Transaction& tx,
                                                 std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT COUNT(*) FROM retention_policies WHERE project = ?",
                                  {std::string(project)}));
  return rows[0].Int(0);
}

Result<RetentionPolicy> RetentionService::SetPolicy(std::string_view project,
                                                    RetentionPolicy policy) {
  policy.updated_at_ms = ToUnixMillis(clock_.Now());
  json stored = RetentionPolicyJson(policy);
  stored.erase("updated_by");
  stored.erase("updated_at");
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM retention_policies WHERE project = ?", {std::string(project)}));
        return tx.Run(
            "INSERT INTO retention_policies (project, policy, updated_by, updated_at_ms) VALUES "
            "(?, ?, ?, ?)",
            {std::string(project), stored.dump(), policy.updated_by, policy.updated_at_ms});
      }));
  return policy;
}

Result<std::optional<RetentionPolicy>> RetentionService::GetPolicy(std::string_view project) {
  std::optional<RetentionPolicy> policy;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT policy, updated_by, updated_at_ms FROM "
                                                   "retention_policies WHERE project = ?",
                                                   {std::string(project)}));
        if (rows.empty()) return Ok();
        FALAJ_ASSIGN_OR_RETURN(policy, ParseRetentionPolicy(json::parse(rows[0].Text(0))));
        policy->updated_by = rows[0].Text(1);
        policy->updated_at_ms = rows[0].Int(2);
        return Ok();
      }));
  return policy;
}

Status RetentionService::RemovePolicy(std::string_view project) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto removed,
            tx.Execute("DELETE FROM retention_policies WHERE project = ?", {std::string(project)}));
        if (removed == 0) {
          return MakeError(ErrorCode::kNotFound, "project '{}' has no retention policy", project);
        }
        return tx.Run("DELETE FROM retention_runs WHERE project = ?", {std::string(project)});
      });
}

Result<std::optional<json>> RetentionService::LastRun(std::string_view project) {
  std::optional<json> report;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query("SELECT report FROM retention_runs WHERE project = ?",
                                        {std::string(project)}));
        if (!rows.empty()) report = json::parse(rows[0].Text(0));
        return Ok();
      }));
  return report;
}

void RetentionService::Audit(std::string_view principal, std::string_view action,
                             const std::string& resource, int status, std::string_view outcome) {
  security::AuditRecord record{ToUnixMillis(clock_.Now()),
                               "",
                               std::string(principal),
                               std::string(action),
                               "JOB",
                               resource,
                               status};
  record.outcome = outcome;
  if (Status appended = audit_.Append(record); !appended) {
    log::Error("audit append failed", {{"error", appended.error().message}});
  }
}

Result<json> RetentionService::Run(std::string_view project, std::string_view principal,
                                   std::string_view trigger) {
  std::lock_guard lock(run_mutex_);
  FALAJ_ASSIGN_OR_RETURN(auto policy, GetPolicy(project));
  if (!policy) {
    return MakeError(ErrorCode::kFailedPrecondition, "project '{}' has no retention policy",
                     project);
  }
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  json report = {{"trigger", trigger},
                 {"started_at", Rfc3339(now_ms)},
                 {"removed", json::array()},
                 {"kept_pinned", json::array()},
                 {"errors", json::array()}};

  // Pinned: dataset → (highest pinned version, by whom), following pinned versions' lineage.
  std::map<std::string, std::pair<int64_t, std::string>, std::less<>> pinned;
  std::map<std::string, std::vector<DatasetVersion>, std::less<>> versions;
  FALAJ_ASSIGN_OR_RETURN(auto summaries, datasets_.List(project));
  for (const auto& summary : summaries) {
    FALAJ_ASSIGN_OR_RETURN(versions[summary.name], datasets_.ListVersions(project, summary.name));
  }
  FALAJ_ASSIGN_OR_RETURN(std::vector<DatasetPin> pending, pins_(project));
  while (!pending.empty()) {
    DatasetPin pin = std::move(pending.back());
    pending.pop_back();
    auto& [highest, by] = pinned[pin.dataset];
    if (pin.version <= highest) continue;
    for (const auto& version : versions[pin.dataset]) {
      if (version.version > highest && version.version <= pin.version) {
        for (auto& more : PinsInLineage(version.lineage, pin.by)) pending.push_back(more);
      }
    }
    highest = pin.version;
    by = pin.by;
  }

  for (const auto& [dataset, listed] : versions) {
    for (const auto& version : listed) {
      if (version.lineage.contains("retention")) continue;  // purged already
      std::optional<int64_t> limit = LimitDays(*policy, version.schema);
      if (!limit || now_ms - version.created_at_ms < *limit * kMillisPerDay) continue;
      const std::string resource = Resource(project, dataset, version.version);
      json entry = {{"dataset", dataset},
                    {"version", version.version},
                    {"rows", version.rows},
                    {"created_at", Rfc3339(version.created_at_ms)},
                    {"limit_days", *limit}};
      if (auto pin = pinned.find(dataset);
          pin != pinned.end() && version.version <= pin->second.first) {
        entry["pinned_by"] = pin->second.second;
        report["kept_pinned"].push_back(entry);
        log::Warn("retention kept an expired version pinned by a model", entry);
        Audit(principal, "retention.kept_pinned", resource, 409, "denied");
        continue;
      }
      json note = {
          {"purged_at", Rfc3339(now_ms)}, {"rows", version.rows}, {"sha256", version.sha256},
          {"limit_days", *limit},         {"by", principal},      {"trigger", trigger}};
      if (auto purged = datasets_.Purge(project, dataset, version.version, note); !purged) {
        report["errors"].push_back({{"dataset", dataset},
                                    {"version", version.version},
                                    {"error", purged.error().message}});
        Audit(principal, "retention.purge", resource, 500, "failed");
        continue;
      }
      report["removed"].push_back(entry);
      Audit(principal, "retention.purge", resource, 200, "allowed");
    }
  }
  report["finished_at"] = Rfc3339(ToUnixMillis(clock_.Now()));
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM retention_runs WHERE project = ?", {std::string(project)}));
        return tx.Run("INSERT INTO retention_runs (project, report) VALUES (?, ?)",
                      {std::string(project), report.dump()});
      }));
  return report;
}

void RetentionService::RunAll() {
  std::vector<std::string> projects;
  Status listed = store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT project FROM retention_policies", {}));
        for (const auto& row : rows) projects.push_back(row.Text(0));
        return Ok();
      });
  if (!listed) {
    log::Error("retention: cannot list policies", {{"error", listed.error().message}});
    return;
  }
  for (const auto& project : projects) {
    auto report = Run(project, kSchedulePrincipal, "schedule");
    if (!report) {
      log::Error("retention run failed", {{"project", project}, {"error", report.error().message}});
    } else if (!(*report)["removed"].empty() || !(*report)["errors"].empty()) {
      log::Info("retention run", {{"project", project},
                                  {"removed", (*report)["removed"].size()},
                                  {"errors", (*report)["errors"].size()}});
    }
  }
}

void RetentionService::StartSchedule(std::chrono::seconds interval) {
  schedule_ = std::jthread([this, interval](std::stop_token stop) {
    while (!stop.stop_requested()) {
      RunAll();
      std::unique_lock lock(schedule_mutex_);
      wake_.wait_for(lock, stop, interval, [] { return false; });
    }
  });
}

}  // namespace falaj::data
