#include "data/postgres_source.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>

#include "common/json_fields.h"
#include "data/typed_row_builder.h"
#include "data/value_parsing.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

constexpr int64_t kMaxBatchRows = 1'000'000;
constexpr size_t kMaxIdentifierBytes = 63;  // PostgreSQL's NAMEDATALEN - 1
constexpr size_t kMaxQueryBytes = 100'000;
constexpr std::string_view kCursor = "falaj_pull";
// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across releases.
constexpr Oid kBoolOid = 16;
constexpr Oid kDateOid = 1082;
constexpr Oid kTimestampOid = 1114;
constexpr Oid kTimestampTzOid = 1184;

std::unexpected<Error> Invalid(std::string_view field, std::string_view problem) {
  return MakeError(ErrorCode::kInvalidArgument, "field '{}' {}", field, problem);
}

bool IsIdentifier(std::string_view name) {
  if (name.empty() || name.size() > kMaxIdentifierBytes) return false;
  auto alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto rest = [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '$'; };
  return alpha(name.front()) && std::all_of(name.begin() + 1, name.end(), rest);
}

// Validated identifiers hold no quote, so wrapping them in quotes is exact.
std::string Quoted(std::string_view identifier) { return fmt::format("\"{}\"", identifier); }

Result<std::string> QuotedTable(std::string_view table) {
  auto dot = table.find('.');
  std::string_view schema = dot == std::string_view::npos ? "" : table.substr(0, dot);
  std::string_view name = dot == std::string_view::npos ? table : table.substr(dot + 1);
  if ((dot != std::string_view::npos && !IsIdentifier(schema)) || !IsIdentifier(name)) {
    return Invalid("table",
                   "must be a table name or schema.table, each an identifier "
                   "([A-Za-z_][A-Za-z0-9_$]*, at most 63 bytes)");
  }
  return schema.empty() ? Quoted(name) : Quoted(schema) + "." + Quoted(name);
}

std::string_view TrimQuery(std::string_view query) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!query.empty() && (space(query.back()) || query.back() == ';')) query.remove_suffix(1);
  while (!query.empty() && space(query.front())) query.remove_prefix(1);
  return query;
}

// Replaces [from, to) of `text` by "***" when it is not empty.
void Mask(std::string& text, size_t from, size_t to) {
  if (to > from) text.replace(from, to - from, "***");
}

// Connection failures and server shutdowns are worth retrying; everything else is the SQL's.
bool IsConnectionError(PGconn* connection, const PGresult* result) {
  if (PQstatus(connection) == CONNECTION_BAD) return true;
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view sqlstate = state ? state : "";
  return sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate.starts_with("53");
}

std::string TrimmedMessage(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

}  // namespace

std::string RedactPostgresUri(std::string_view uri) {
  std::string text(uri);
  auto scheme_end = text.find("://");
  size_t authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t authority_end = text.find_first_of("/?", authority);
  if (authority_end == std::string::npos) authority_end = text.size();
  // The last '@' of the authority ends the user information (a password may contain '@').
  auto at = text.rfind('@', authority_end - 1);
  if (at != std::string::npos && at >= authority) {
    auto colon = text.find(':', authority);
    if (colon != std::string::npos && colon < at) Mask(text, colon + 1, at);
  }
  // password=… among the query parameters.
  if (auto query = text.find('?'); query != std::string::npos) {
    for (size_t start = query + 1; start <= text.size();) {
      if (text.compare(start, 9, "password=") == 0) {
        auto end = text.find('&', start);
        Mask(text, start + 9, end == std::string::npos ? text.size() : end);
      }
      auto end = text.find('&', start);
      start = end == std::string::npos ? text.size() + 1 : end + 1;
    }
  }
  return text;
}

Status ValidatePostgresConfig(const PostgresSourceConfig& config) {
  if (!config.uri.starts_with("postgresql://") && !config.uri.starts_with("postgres://")) {
    return Invalid("uri", "must be postgresql://user:password@host:port/database");
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(config.uri.c_str(), &error);
  // libpq's message may quote part of the URI, password included, so it is not passed on.
  PQfreemem(error);
  if (!options) {
    return Invalid("uri",
                   "is not a valid PostgreSQL connection URI "
                   "(postgresql://user:password@host:port/database?param=value)");
  }
  PQconninfoFree(options);
  if (config.table.empty() == config.query.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "exactly one of the fields 'table' and 'query' must be given");
  }
  if (!config.table.empty()) FALAJ_RETURN_IF_ERROR(QuotedTable(config.table));
  if (!config.query.empty()) {
    if (config.query.size() > kMaxQueryBytes || TrimQuery(config.query).empty()) {
      return Invalid("query", "must be a SELECT of at most 100000 bytes");
    }
    if (config.query.find('\0') != std::string::npos) return Invalid("query", "holds a NUL byte");
  }
  if (!config.timestamp_column.empty() && !IsIdentifier(config.timestamp_column)) {
    return Invalid("timestamp_column",
                   "must be a column name ([A-Za-z_][A-Za-z0-9_$]*, at most 63 bytes)");
  }
  if (config.batch_rows < 1 || config.batch_rows > kMaxBatchRows) {
    return Invalid("batch_rows", "must be between 1 and 1000000");
  }
  return Ok();
}

Result<PostgresSourceConfig> ParsePostgresConfig(const nlohmann::json& json) {
  if (!json.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "a PostgreSQL source config must be an object");
  }
  FALAJ_RETURN_IF_ERROR(
      json::RejectUnknownFields(json, {"uri", "table", "query", "timestamp_column", "batch_rows"}));
  PostgresSourceConfig config;
  FALAJ_ASSIGN_OR_RETURN(config.uri, json::RequiredString(json, "uri"));
  FALAJ_ASSIGN_OR_RETURN(auto table, json::OptionalString(json, "table"));
  FALAJ_ASSIGN_OR_RETURN(auto query, json::OptionalString(json, "query"));
  FALAJ_ASSIGN_OR_RETURN(auto timestamp_column, json::OptionalString(json, "timestamp_column"));
  FALAJ_ASSIGN_OR_RETURN(auto batch_rows, json::OptionalInt(json, "batch_rows"));
  config.table = table.value_or("");
  config.query = std::string(TrimQuery(query.value_or("")));
  if (query && config.query.empty()) return Invalid("query", "must not be empty");
  config.timestamp_column = timestamp_column.value_or("");
  if (batch_rows) config.batch_rows = *batch_rows;
  FALAJ_RETURN_IF_ERROR(ValidatePostgresConfig(config));
  return config;
}

nlohmann::json PostgresConfigJson(const PostgresSourceConfig& config, bool redact_password) {
  nlohmann::json json = {{"uri", redact_password ? RedactPostgresUri(config.uri) : config.uri},
                         {"batch_rows", config.batch_rows}};
  if (!config.table.empty()) json["table"] = config.table;
  if (!config.query.empty()) json["query"] = config.query;
  if (!config.timestamp_column.empty()) json["timestamp_column"] = config.timestamp_column;
  return json;
}

Result<std::string> PostgresPullSql(const PostgresSourceConfig& config, bool after_watermark) {
  FALAJ_RETURN_IF_ERROR(ValidatePostgresConfig(config));
  std::string sql;
  if (!config.table.empty()) {
    FALAJ_ASSIGN_OR_RETURN(std::string table, QuotedTable(config.table));
    sql = "SELECT * FROM " + table;
  } else {
    // Newlines keep a trailing "-- comment" in the query from swallowing the closing parenthesis.
    sql = fmt::format("SELECT * FROM (\n{}\n) AS falaj_source", TrimQuery(config.query));
  }
  if (!config.timestamp_column.empty()) {
    std::string column = Quoted(config.timestamp_column);
    sql += after_watermark ? fmt::format(" WHERE {} > $1 ORDER BY {}", column, column)
                           : fmt::format(" WHERE {} IS NOT NULL ORDER BY {}", column, column);
  }
  return sql;
}

struct PostgresPull::Impl {
  using Row = std::vector<std::optional<std::string>>;  // one text per result field

  ~Impl() { Close(); }
  void Close() {
    if (connection) PQfinish(connection);
    connection = nullptr;
  }

  Status Connect();
  Status Exec(const std::string& sql, ExecStatusType expected, std::string_view doing);
  Status Declare(std::optional<int64_t> after_micros);
  Status MatchColumns();
  Status Fetch(int64_t rows);
  Result<PulledBatch> Build(size_t rows);
  size_t Cut();

  std::unique_ptr<PulledBatch> Empty() const;
  Status Failure(const PGresult* result, std::string_view doing);

  PostgresSourceConfig config;
  TableSchema schema;
  std::string redacted_uri;
  PGconn* connection = nullptr;
  std::vector<int> field_of_column;  // result field of each schema column
  std::vector<bool> bool_field;      // result fields of PostgreSQL type boolean
  int timestamp_field = -1;          // -1: a full pull
  std::deque<Row> queue;             // fetched, not yet returned
  bool exhausted = false;            // the cursor has returned its last row
  bool finished = false;             // the last batch has been returned
  std::optional<int64_t> watermark;
};

Status PostgresPull::Impl::Failure(const PGresult* result, std::string_view doing) {
  std::string message = TrimmedMessage(result ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = TrimmedMessage(PQerrorMessage(connection));
  if (IsConnectionError(connection, result)) {
    return MakeError(ErrorCode::kUnavailable, "PostgreSQL at {}: {}: {}", redacted_uri, doing,
                     message);
  }
  return MakeError(ErrorCode::kInvalidArgument, "PostgreSQL source: {}: {}", doing, message);
}

Status PostgresPull::Impl::Connect() {
  // The URI is expanded in place of "dbname", so its own settings override the defaults before it.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "falaj-ingest", config.uri.c_str(), nullptr};
  connection = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!connection || PQstatus(connection) != CONNECTION_OK) {
    std::string message = connection ? TrimmedMessage(PQerrorMessage(connection)) : "out of memory";
    return MakeError(ErrorCode::kUnavailable, "cannot connect to PostgreSQL at {}: {}",
                     redacted_uri, message);
  }
  // NOTICEs (from the source's query, say) would otherwise go to this process's stderr.
  PQsetNoticeProcessor(
      connection, [](void*, const char*) {}, nullptr);
  // Text output that value_parsing reads: ISO dates, UTC offsets, round-tripping floats.
  return Exec(
      "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET extra_float_digits TO 3; "
      "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
      PGRES_COMMAND_OK, "starting the read-only transaction");
}

Status PostgresPull::Impl::Exec(const std::string& sql, ExecStatusType expected,
                                std::string_view doing) {
  ResultPtr result(PQexec(connection, sql.c_str()));
  if (!result || PQresultStatus(result.get()) != expected) return Failure(result.get(), doing);
  return Ok();
}

Status PostgresPull::Impl::Declare(std::optional<int64_t> after_micros) {
  bool incremental = !config.timestamp_column.empty() && after_micros.has_value();
  FALAJ_ASSIGN_OR_RETURN(std::string select, PostgresPullSql(config, incremental));
  std::string sql = fmt::format("DECLARE {} NO SCROLL CURSOR FOR {}", kCursor, select);
  // PostgreSQL reads ISO 8601 with 'T' and 'Z' for timestamp and timestamptz alike.
  std::string after = incremental ? FormatIsoTimestamp(*after_micros, 1'000'000) : "";
  const char* values[] = {after.c_str()};
  ResultPtr result(PQexecParams(connection, sql.c_str(), incremental ? 1 : 0, nullptr,
                                incremental ? values : nullptr, nullptr, nullptr, 0));
  if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Failure(result.get(), "running the source's SELECT");
  }
  return Ok();
}

Status PostgresPull::Impl::MatchColumns() {
  ResultPtr result(PQdescribePortal(connection, std::string(kCursor).c_str()));
  if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Failure(result.get(), "describing the result");
  }
  int fields = PQnfields(result.get());
  std::map<std::string_view, int> field_of_name;
  bool_field.assign(fields, false);
  for (int i = 0; i < fields; ++i) {
    std::string_view name = PQfname(result.get(), i);
    if (!field_of_name.emplace(name, i).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the PostgreSQL source returns column '{}' twice", name);
    }
    if (!schema.Find(name)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the PostgreSQL source has column '{}', which the schema does not declare",
                       name);
    }
    bool_field[i] = PQftype(result.get(), i) == kBoolOid;
  }
  for (const auto& column : schema.columns) {
    auto found = field_of_name.find(column.name);
    if (found == field_of_name.end()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the PostgreSQL source has no column '{}' of the schema", column.name);
    }
    field_of_column.push_back(found->second);
    if (column.name == config.timestamp_column) timestamp_field = found->second;
  }
  if (timestamp_field >= 0) {
    Oid type = PQftype(result.get(), timestamp_field);
    if (type != kTimestampOid && type != kTimestampTzOid && type != kDateOid) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "timestamp_column '{}' must be a timestamp, timestamptz or date column in "
                       "PostgreSQL (type oid {})",
                       config.timestamp_column, type);
    }
  }
  return Ok();
}

Status PostgresPull::Impl::Fetch(int64_t rows) {
  std::string sql = fmt::format("FETCH FORWARD {} FROM {}", rows, kCursor);
  ResultPtr result(PQexec(connection, sql.c_str()));
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return Failure(result.get(), "fetching rows");
  }
  int count = PQntuples(result.get());
  int fields = PQnfields(result.get());
  for (int r = 0; r < count; ++r) {
    Row row(fields);
    for (int f = 0; f < fields; ++f) {
      if (!PQgetisnull(result.get(), r, f)) {
        row[f].emplace(PQgetvalue(result.get(), r, f), PQgetlength(result.get(), r, f));
      }
    }
    queue.push_back(std::move(row));
  }
  if (count < rows) {
    exhausted = true;
    result.reset();
    // The snapshot is no longer needed; give the connection back at once.
    Status committed = Exec("COMMIT", PGRES_COMMAND_OK, "ending the transaction");
    Close();
    return committed;
  }
  return Ok();
}

// How many queued rows the next batch takes: batch_rows, moved back to the start of a trailing
// group of equal timestamps that may continue beyond it, or — when one timestamp fills the whole
// batch — forward to the end of that group, so that the batch's watermark is exact.
size_t PostgresPull::Impl::Cut() {
  size_t cut = std::min(queue.size(), static_cast<size_t>(config.batch_rows));
  if (timestamp_field < 0 || cut == queue.size()) return cut;
  const auto& last = queue[cut - 1][timestamp_field];
  if (queue[cut][timestamp_field] != last) return cut;
  size_t start = cut - 1;
  while (start > 0 && queue[start - 1][timestamp_field] == last) --start;
  if (start > 0) return start;
  return cut;  // the caller extends it (see Next)
}

Result<PulledBatch> PostgresPull::Impl::Build(size_t rows) {
  PulledBatch pulled;
  pulled.batch.quarantine = std::make_unique<QuarantineBuilder>(schema);
  TypedRowBuilder builder(schema);
  std::vector<Cell> cells(schema.columns.size());
  std::vector<std::optional<std::string>> texts(schema.columns.size());
  for (size_t r = 0; r < rows; ++r) {
    const Row& row = queue[r];
    for (size_t c = 0; c < schema.columns.size(); ++c) {
      int field = field_of_column[c];
      const auto& value = row[field];
      if (!value) {
        cells[c] = std::monostate{};
      } else if (bool_field[field] && schema.columns[c].type != ColumnType::kString) {
        cells[c] = *value == "t";
      } else if (bool_field[field]) {
        cells[c] = std::string_view(*value == "t" ? "true" : "false");
      } else {
        cells[c] = std::string_view(*value);
      }
    }
    if (auto refusal = builder.AppendRow(cells)) {
      for (size_t c = 0; c < schema.columns.size(); ++c) texts[c] = row[field_of_column[c]];
      FALAJ_RETURN_IF_ERROR(
          pulled.batch.quarantine->AddRow(static_cast<int64_t>(r), *refusal, texts));
    } else {
      pulled.batch.batch_rows.push_back(static_cast<int64_t>(r));
    }
    if (timestamp_field >= 0 && row[timestamp_field]) {
      if (auto micros = ParseTimestampMicros(*row[timestamp_field])) {
        watermark = std::max(watermark.value_or(*micros), *micros);
      }
    }
  }
  FALAJ_ASSIGN_OR_RETURN(pulled.batch.rows, builder.Finish());
  pulled.batch.delivered = static_cast<int64_t>(rows);
  pulled.rows_read = static_cast<int64_t>(rows);
  pulled.watermark = watermark;
  queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(rows));
  return pulled;
}

PostgresPull::PostgresPull(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresPull::~PostgresPull() = default;

Result<std::unique_ptr<PostgresPull>> PostgresPull::Open(const PostgresSourceConfig& config,
                                                         const TableSchema& schema,
                                                         std::optional<int64_t> after_micros) {
  FALAJ_RETURN_IF_ERROR(ValidatePostgresConfig(config));
  if (!config.timestamp_column.empty()) {
    const ColumnSchema* column = schema.Find(config.timestamp_column);
    if (!column || column->type != ColumnType::kTimestamp) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "timestamp_column '{}' must be a timestamp column of the schema",
                       config.timestamp_column);
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->schema = schema;
  impl->redacted_uri = RedactPostgresUri(config.uri);
  if (!config.timestamp_column.empty()) impl->watermark = after_micros;
  FALAJ_RETURN_IF_ERROR(impl->Connect());
  FALAJ_RETURN_IF_ERROR(impl->Declare(after_micros));
  FALAJ_RETURN_IF_ERROR(impl->MatchColumns());
  return std::unique_ptr<PostgresPull>(new PostgresPull(std::move(impl)));
}

Result<PulledBatch> PostgresPull::Next() {
  Impl& pull = *impl_;
  const auto batch_rows = static_cast<size_t>(pull.config.batch_rows);
  if (pull.finished) return pull.Build(0);
  // One row past the batch tells whether more remain and whether a timestamp group continues.
  while (!pull.exhausted && pull.queue.size() <= batch_rows) {
    FALAJ_RETURN_IF_ERROR(pull.Fetch(static_cast<int64_t>(batch_rows + 1 - pull.queue.size())));
  }
  size_t cut = pull.Cut();
  if (pull.timestamp_field >= 0 && cut == batch_rows && cut < pull.queue.size() &&
      pull.queue[cut][pull.timestamp_field] == pull.queue[cut - 1][pull.timestamp_field]) {
    // One timestamp fills the batch: take its whole group, however large.
    const auto group = pull.queue[cut - 1][pull.timestamp_field];
    while (true) {
      while (cut < pull.queue.size() && pull.queue[cut][pull.timestamp_field] == group) ++cut;
      if (cut < pull.queue.size() || pull.exhausted) break;
      FALAJ_RETURN_IF_ERROR(pull.Fetch(static_cast<int64_t>(batch_rows)));
    }
  }
  FALAJ_ASSIGN_OR_RETURN(PulledBatch pulled, pull.Build(cut));
  pulled.more = !pull.queue.empty() || !pull.exhausted;
  pull.finished = !pulled.more;
  return pulled;
}

Result<PulledBatch> PullPostgres(const PostgresSourceConfig& config, const TableSchema& schema,
                                 std::optional<int64_t> after_micros) {
  FALAJ_ASSIGN_OR_RETURN(auto pull, PostgresPull::Open(config, schema, after_micros));
  return pull->Next();
}

}  // namespace falaj::data
