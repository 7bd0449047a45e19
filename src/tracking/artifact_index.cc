#include "tracking/artifact_index.h"

#include <algorithm>
#include <set>

namespace falaj::tracking {
namespace {

constexpr size_t kMaxPathLength = 1024;

// "Below `directory`" as SQL: the path starts with directory + "/". Compared with SUBSTR rather
// than a range or LIKE, because '%' and '_' would need escaping and PostgreSQL's collations do
// not order '/' and '0' bytewise. SUBSTR counts characters on both backends.
struct Below {
  std::string clause;
  std::vector<storage::SqlValue> params;
};

Below BelowDirectory(std::string_view project, std::string_view directory) {
  if (directory.empty()) return {"project = ?", {std::string(project)}};
  std::string prefix = std::string(directory) + "/";
  int64_t characters = 0;
  for (char c : prefix) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return {"project = ? AND SUBSTR(path, 1, ?) = ?", {std::string(project), characters, prefix}};
}

}  // namespace

ArtifactIndex::ArtifactIndex(storage::MetadataStore& store, const Clock& clock)
    : store_(store), clock_(clock) {}

const storage::MigrationSet& ArtifactIndex::Migrations() {
  static const storage::MigrationSet kSet{
      "tracking_artifacts",
      {{1, "create the artifact path index",
        "CREATE TABLE tracking_artifacts (project TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT "
        "NOT NULL, size BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, PRIMARY KEY (project, "
        "path))"}}};
  return kSet;
}

Status ArtifactIndex::ValidatePath(std::string_view path) {
  auto refuse = [&](std::string_view why) -> Status {
    return MakeError(ErrorCode::kInvalidArgument, "artifact path '{}' is refused: {}",
                     path.substr(0, 120), why);
  };
  if (path.empty()) return refuse("it is empty");
  if (path.size() > kMaxPathLength) return refuse("it is longer than 1024 bytes");
  if (path.front() == '/') return refuse("it is absolute");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) return refuse("it has an empty segment");
    if (segment == "." || segment == "..") return refuse("it has a '.' or '..' segment");
    start = end + 1;
  }
  for (char c : path) {
    if (c == '\\') return refuse("it contains a backslash");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return refuse("it contains a control character");
    }
  }
  return Ok();
}

Status ArtifactIndex::Put(std::string_view project, std::string_view path, std::string_view sha256,
                          uint64_t size) {
  FALAJ_RETURN_IF_ERROR(ValidatePath(path));
  int64_t now = ToUnixMillis(clock_.Now());
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        // A path is a file or a directory, never both.
        Below below_path = BelowDirectory(project, path);
        FALAJ_ASSIGN_OR_RETURN(auto below, tx.Query("SELECT 1 FROM tracking_artifacts WHERE " +
                                                        below_path.clause + " LIMIT 1",
                                                    below_path.params));
        if (!below.empty()) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "artifact path '{}' is a directory; cannot write a file there",
                           path.substr(0, 120));
        }
        return tx.Run(
            "INSERT INTO tracking_artifacts (project, path, sha256, size, updated_at_ms) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT (project, path) DO UPDATE SET sha256 = excluded.sha256, "
            "size = excluded.size, updated_at_ms = excluded.updated_at_ms",
            {std::string(project), std::string(path), std::string(sha256),
             static_cast<int64_t>(size), now});
      });
}

Result<ArtifactEntry> ArtifactIndex::Get(std::string_view project, std::string_view path) {
  FALAJ_RETURN_IF_ERROR(ValidatePath(path));
  ArtifactEntry entry;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query("SELECT path, sha256, size, updated_at_ms FROM "
                                        "tracking_artifacts WHERE project = ? AND path = ?",
                                        {std::string(project), std::string(path)}));
        if (rows.empty()) {
          return MakeError(ErrorCode::kNotFound, "artifact '{}' does not exist",
                           path.substr(0, 120));
        }
        entry = {rows[0].Text(0), rows[0].Text(1), static_cast<uint64_t>(rows[0].Int(2)),
                 rows[0].Int(3)};
        return Ok();
      }));
  return entry;
}

Result<std::vector<ArtifactEntry>> ArtifactIndex::FilesUnder(std::string_view project,
                                                             std::string_view directory) {
  if (!directory.empty()) FALAJ_RETURN_IF_ERROR(ValidatePath(directory));
  std::vector<ArtifactEntry> entries;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        Below below = BelowDirectory(project, directory);
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT path, sha256, size, updated_at_ms FROM "
                                                   "tracking_artifacts WHERE " +
                                                       below.clause + " ORDER BY path",
                                                   below.params));
        for (const auto& row : rows) {
          entries.push_back(
              {row.Text(0), row.Text(1), static_cast<uint64_t>(row.Int(2)), row.Int(3)});
        }
        return Ok();
      }));
  return entries;
}

Result<std::vector<ArtifactListing>> ArtifactIndex::List(std::string_view project,
                                                         std::string_view directory) {
  FALAJ_ASSIGN_OR_RETURN(auto files, FilesUnder(project, directory));
  size_t skip = directory.empty() ? 0 : directory.size() + 1;
  std::vector<ArtifactListing> listing;
  std::set<std::string> directories;
  for (const auto& file : files) {
    std::string_view rest = std::string_view(file.path).substr(skip);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      listing.push_back({std::string(rest), false, file.size});
    } else if (directories.insert(std::string(rest.substr(0, slash))).second) {
      listing.push_back({std::string(rest.substr(0, slash)), true, 0});
    }
  }
  // By name, whatever order the backend's collation gave the paths in.
  std::sort(listing.begin(), listing.end(),
            [](const ArtifactListing& a, const ArtifactListing& b) { return a.name < b.name; });
  return listing;
}

Result<int64_t> ArtifactIndex::Delete(std::string_view project, std::string_view path) {
  FALAJ_RETURN_IF_ERROR(ValidatePath(path));
  int64_t deleted = 0;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        Below below = BelowDirectory(project, path);
        below.params.push_back(std::string(project));
        below.params.push_back(std::string(path));
        FALAJ_ASSIGN_OR_RETURN(deleted,
                               tx.Execute("DELETE FROM tracking_artifacts WHERE (" + below.clause +
                                              ") OR (project = ? AND path = ?)",
                                          below.params));
        return Ok();
      }));
  return deleted;
}

}  // namespace falaj::tracking
