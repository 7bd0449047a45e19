#include "storage/metadata_store.h"

#include "common/clock.h"
#include "storage/scheme_registry.h"
#include "storage/sqlite_metadata_store.h"
#include "storage/storage_uri.h"

namespace falaj::storage {

bool Row::IsNull(size_t column) const {
  return std::holds_alternative<std::nullptr_t>(values_.at(column));
}

const std::string& Row::Text(size_t column) const {
  static const std::string kEmpty;
  if (IsNull(column)) return kEmpty;
  return std::get<std::string>(values_.at(column));
}

int64_t Row::Int(size_t column) const {
  if (IsNull(column)) return 0;
  return std::get<int64_t>(values_.at(column));
}

double Row::Real(size_t column) const {
  const SqlValue& value = values_.at(column);
  if (const auto* integer = std::get_if<int64_t>(&value)) return static_cast<double>(*integer);
  if (IsNull(column)) return 0;
  return std::get<double>(value);
}

namespace {

// Splits a migration script on ';' so each statement runs through Transaction::Execute, which
// every backend supports the same way.
Status ExecuteScript(Transaction& tx, std::string_view script) {
  size_t start = 0;
  while (start < script.size()) {
    size_t end = script.find(';', start);
    if (end == std::string_view::npos) end = script.size();
    std::string_view statement = script.substr(start, end - start);
    if (statement.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      FALAJ_RETURN_IF_ERROR(tx.Execute(statement));
    }
    start = end + 1;
  }
  return Ok();
}

// Never destroyed, so stores may still be opened while other statics are torn down at exit.
SchemeRegistry<MetadataStoreFactory>& Registry() {
  static auto* registry = new SchemeRegistry<MetadataStoreFactory>(
      "metadata store", {{"sqlite", OpenSqliteMetadataStore}});
  return *registry;
}

}  // namespace

Status MetadataStore::Migrate(const MigrationSet& set) {
  FALAJ_RETURN_IF_ERROR(RunTransaction(TransactionMode::kReadWrite, [](Transaction& tx) {
    return ExecuteScript(tx,
                         "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, "
                         "version BIGINT NOT NULL, name TEXT NOT NULL, applied_at_ms BIGINT NOT "
                         "NULL, PRIMARY KEY (component, version))");
  }));
  auto current = SchemaVersion(set.component);
  if (!current) return std::unexpected(current.error());
  for (const Migration& migration : set.migrations) {
    if (migration.version <= *current) continue;
    Status applied = RunTransaction(TransactionMode::kReadWrite, [&](Transaction& tx) -> Status {
      FALAJ_RETURN_IF_ERROR(ExecuteScript(tx, migration.sql));
      return tx.Run(
          "INSERT INTO schema_migrations (component, version, name, applied_at_ms) "
          "VALUES (?, ?, ?, ?)",
          {std::string(set.component), int64_t{migration.version}, std::string(migration.name),
           ToUnixMillis(SystemClock::Instance().Now())});
    });
    if (!applied) {
      return MakeError(applied.error().code, "migration {} v{} ({}) failed: {}", set.component,
                       migration.version, migration.name, applied.error().message);
    }
  }
  return Ok();
}

Result<int> MetadataStore::SchemaVersion(std::string_view component) {
  int version = 0;
  FALAJ_RETURN_IF_ERROR(RunTransaction(TransactionMode::kReadOnly, [&](Transaction& tx) -> Status {
    auto rows =
        tx.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?",
                 {std::string(component)});
    if (!rows) return std::unexpected(rows.error());
    version = static_cast<int>(rows->at(0).Int(0));
    return Ok();
  }));
  return version;
}

void RegisterMetadataStoreScheme(std::string scheme, MetadataStoreFactory factory) {
  Registry().Register(std::move(scheme), std::move(factory));
}

Result<std::unique_ptr<MetadataStore>> OpenMetadataStore(std::string_view uri, int pool_size) {
  auto parsed = ParseStorageUri(uri);
  if (!parsed) return std::unexpected(parsed.error());
  auto factory = Registry().Find(parsed->scheme);
  if (!factory) return std::unexpected(factory.error());
  return (*factory)(parsed->rest, pool_size);
}

}  // namespace falaj::storage
