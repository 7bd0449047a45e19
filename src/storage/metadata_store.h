// MetadataStore: the transactional SQL store behind every control-plane resource (projects, keys,
// models, runs …). Backends are chosen by URI scheme: sqlite:// (embedded default) now,
// postgresql:// later. Statements use portable SQL with `?` placeholders; a backend translates
// placeholders and maps constraint violations to error codes (unique → ALREADY_EXISTS), so
// callers never see backend-specific errors.
//
// Schema changes are migrations owned by the module whose tables they touch, applied in order at
// open and recorded in schema_migrations(component, version).
//
// Thread-safety: a MetadataStore may be used from many threads at once; each Transaction belongs
// to the thread running the callback it was handed to.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace falaj::storage {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

class Row {
 public:
  explicit Row(std::vector<SqlValue> values) : values_(std::move(values)) {}
  bool IsNull(size_t column) const;
  // The column as text / integer; NULL reads as "" / 0. A type mismatch is a programming error.
  const std::string& Text(size_t column) const;
  int64_t Int(size_t column) const;
  double Real(size_t column) const;
  size_t size() const { return values_.size(); }

 private:
  std::vector<SqlValue> values_;
};

using Rows = std::vector<Row>;

class Transaction {
 public:
  virtual ~Transaction() = default;
  // Runs a statement that returns rows.
  virtual Result<Rows> Query(std::string_view sql, const std::vector<SqlValue>& params) = 0;
  // Runs a statement; returns the number of rows it changed.
  virtual Result<int64_t> Execute(std::string_view sql, const std::vector<SqlValue>& params) = 0;

  Result<Rows> Query(std::string_view sql) { return Query(sql, {}); }
  Result<int64_t> Execute(std::string_view sql) { return Execute(sql, {}); }
  // Runs a statement for its effect alone.
  Status Run(std::string_view sql, const std::vector<SqlValue>& params = {}) {
    auto changed = Execute(sql, params);
    if (!changed) return std::unexpected(std::move(changed).error());
    return Ok();
  }
};

enum class TransactionMode { kReadOnly, kReadWrite };

struct Migration {
  int version;            // 1, 2, 3 … within its component
  std::string_view name;  // e.g. "create projects"
  std::string_view sql;   // one or more statements separated by ';'
};

struct MigrationSet {
  std::string_view component;  // e.g. "projects"
  std::vector<Migration> migrations;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Runs `body` in one transaction: commits when it returns success, rolls back when it returns
  // an error (which is passed through). A commit that returns success is durable.
  virtual Status RunTransaction(TransactionMode mode,
                                const std::function<Status(Transaction&)>& body) = 0;

  // Applies the migrations of `set` not yet recorded, each in its own transaction together
  // with its schema_migrations row, so a crash leaves every migration applied or not at all.
  Status Migrate(const MigrationSet& set);

  // The highest applied migration version of a component (0 when none).
  Result<int> SchemaVersion(std::string_view component);

  // "sqlite", "postgresql" …
  virtual std::string_view backend() const = 0;
};

using MetadataStoreFactory =
    std::function<Result<std::unique_ptr<MetadataStore>>(std::string_view location, int pool_size)>;

// Registers a backend for a URI scheme. Registering a scheme twice aborts.
void RegisterMetadataStoreScheme(std::string scheme, MetadataStoreFactory factory);

// Opens the store named by `uri` (e.g. "sqlite:///var/lib/falaj/falaj.db") with up to
// `pool_size` concurrent connections.
Result<std::unique_ptr<MetadataStore>> OpenMetadataStore(std::string_view uri, int pool_size);

}  // namespace falaj::storage
