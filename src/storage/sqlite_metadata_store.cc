#include "storage/sqlite_metadata_store.h"

#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <vector>

namespace falaj::storage {
namespace {

constexpr int kBusyTimeoutMillis = 10000;

Error SqliteError(sqlite3* db, int code, std::string_view context) {
  int extended = db != nullptr ? sqlite3_extended_errcode(db) : code;
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  ErrorCode mapped = ErrorCode::kInternal;
  if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
    mapped = ErrorCode::kAlreadyExists;
  } else if ((code & 0xff) == SQLITE_CONSTRAINT) {
    mapped = ErrorCode::kFailedPrecondition;
  } else if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    mapped = ErrorCode::kUnavailable;
  } else if ((code & 0xff) == SQLITE_FULL) {
    mapped = ErrorCode::kResourceExhausted;
  } else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) {
    mapped = ErrorCode::kDataLoss;
  }
  return Error{mapped, fmt::format("sqlite: {}: {}", context, message)};
}

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  static Result<std::unique_ptr<Statement>> Prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    int code = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    if (code != SQLITE_OK) return std::unexpected(SqliteError(db, code, "prepare"));
    return std::make_unique<Statement>(db, raw);
  }

  Status Bind(const std::vector<SqlValue>& params) {
    if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(statement_)) {
      return MakeError(ErrorCode::kInternal, "sqlite: statement expects {} parameters, got {}",
                       sqlite3_bind_parameter_count(statement_), params.size());
    }
    for (size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i) + 1;
      int code = std::visit(
          [&](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) {
              return sqlite3_bind_null(statement_, index);
            } else if constexpr (std::is_same_v<T, int64_t>) {
              return sqlite3_bind_int64(statement_, index, value);
            } else if constexpr (std::is_same_v<T, double>) {
              return sqlite3_bind_double(statement_, index, value);
            } else {
              return sqlite3_bind_text(statement_, index, value.data(),
                                       static_cast<int>(value.size()), SQLITE_TRANSIENT);
            }
          },
          params[i]);
      if (code != SQLITE_OK) return std::unexpected(SqliteError(db_, code, "bind"));
    }
    return Ok();
  }

  Result<Rows> Run() {
    Rows rows;
    while (true) {
      int code = sqlite3_step(statement_);
      if (code == SQLITE_DONE) return rows;
      if (code != SQLITE_ROW) return std::unexpected(SqliteError(db_, code, "step"));
      int columns = sqlite3_column_count(statement_);
      std::vector<SqlValue> values;
      values.reserve(columns);
      for (int c = 0; c < columns; ++c) values.push_back(Column(c));
      rows.emplace_back(std::move(values));
    }
  }

 private:
  SqlValue Column(int column) {
    switch (sqlite3_column_type(statement_, column)) {
      case SQLITE_INTEGER:
        return static_cast<int64_t>(sqlite3_column_int64(statement_, column));
      case SQLITE_FLOAT:
        return sqlite3_column_double(statement_, column);
      case SQLITE_NULL:
        return nullptr;
      default: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
        return std::string(text, sqlite3_column_bytes(statement_, column));
      }
    }
  }

  sqlite3* db_;
  sqlite3_stmt* statement_;
};

class SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(sqlite3* db) : db_(db) {}

  Result<Rows> Query(std::string_view sql, const std::vector<SqlValue>& params) override {
    auto statement = Statement::Prepare(db_, sql);
    if (!statement) return std::unexpected(statement.error());
    FALAJ_RETURN_IF_ERROR((*statement)->Bind(params));
    return (*statement)->Run();
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<SqlValue>& params) override {
    auto rows = Query(sql, params);
    if (!rows) return std::unexpected(rows.error());
    return static_cast<int64_t>(sqlite3_changes64(db_));
  }

 private:
  sqlite3* db_;
};

Status ExecScript(sqlite3* db, std::string_view sql, std::string_view context) {
  char* message = nullptr;
  int code = sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (code == SQLITE_OK) return Ok();
  std::string text = message != nullptr ? message : sqlite3_errstr(code);
  sqlite3_free(message);
  Error error = SqliteError(nullptr, code, context);
  error.message = fmt::format("sqlite: {}: {}", context, text);
  return std::unexpected(error);
}

class SqliteMetadataStore final : public MetadataStore {
 public:
  ~SqliteMetadataStore() override {
    for (sqlite3* db : connections_) sqlite3_close_v2(db);
  }

  Status Open(const std::string& path, int pool_size) {
    for (int i = 0; i < pool_size; ++i) {
      sqlite3* db = nullptr;
      int code = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
      if (code != SQLITE_OK) {
        Error error = SqliteError(db, code, "open " + path);
        sqlite3_close_v2(db);
        return std::unexpected(error);
      }
      connections_.push_back(db);
      free_.push_back(db);
      sqlite3_busy_timeout(db, kBusyTimeoutMillis);
      FALAJ_RETURN_IF_ERROR(ExecScript(db,
                                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                       "PRAGMA foreign_keys=ON;",
                                       "configure " + path));
    }
    return Ok();
  }

  Status RunTransaction(TransactionMode mode,
                        const std::function<Status(Transaction&)>& body) override {
    Lease lease(*this);
    // IMMEDIATE takes the write lock up front, so a read-then-write transaction never fails
    // with SQLITE_BUSY halfway through; busy_timeout makes other writers wait their turn.
    FALAJ_RETURN_IF_ERROR(ExecScript(
        lease.db, mode == TransactionMode::kReadWrite ? "BEGIN IMMEDIATE" : "BEGIN", "begin"));
    SqliteTransaction transaction(lease.db);
    Status status = body(transaction);
    if (!status) {
      (void)ExecScript(lease.db, "ROLLBACK", "rollback");
      return status;
    }
    if (Status committed = ExecScript(lease.db, "COMMIT", "commit"); !committed) {
      (void)ExecScript(lease.db, "ROLLBACK", "rollback");
      return committed;
    }
    return Ok();
  }

  std::string_view backend() const override { return "sqlite"; }

 private:
  // Borrows a connection from the pool for the lifetime of one transaction.
  struct Lease {
    explicit Lease(SqliteMetadataStore& store) : store(store) {
      std::unique_lock lock(store.mutex_);
      store.available_.wait(lock, [&] { return !store.free_.empty(); });
      db = store.free_.back();
      store.free_.pop_back();
    }
    ~Lease() {
      {
        std::lock_guard lock(store.mutex_);
        store.free_.push_back(db);
      }
      store.available_.notify_one();
    }
    SqliteMetadataStore& store;
    sqlite3* db;
  };

  std::vector<sqlite3*> connections_;  // owned; fixed after Open()
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<sqlite3*> free_;  // guarded by mutex_
};

}  // namespace

Result<std::unique_ptr<MetadataStore>> OpenSqliteMetadataStore(std::string_view location,
                                                               int pool_size) {
  std::string path(location);
  if (path == ":memory:" || path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "sqlite metadata store needs a file path, got '{}'", location);
  }
  std::error_code error;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  if (error) {
    return MakeError(ErrorCode::kInternal, "cannot create directory '{}': {}", parent.string(),
                     error.message());
  }
  auto store = std::make_unique<SqliteMetadataStore>();
  FALAJ_RETURN_IF_ERROR(store->Open(path, pool_size < 1 ? 1 : pool_size));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace falaj::storage
