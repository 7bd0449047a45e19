// PostgreSQL source: pulls a table, or the rows of a query, into typed batches of a declared
// schema (libpq). Values are read as PostgreSQL's text output and converted by TypedRowBuilder;
// rows that do not convert go to the batch's quarantine with the reason, as for CSV.
//
// A pull runs in one read-only REPEATABLE READ transaction over a server-side cursor and returns
// at most about `batch_rows` rows per call, so a huge table never sits in memory whole.
// Incremental pulls (a `timestamp_column`) read only rows whose timestamp is after a watermark,
// ordered by it, and end every batch at a timestamp boundary, so a batch's watermark is exact:
// every source row with a timestamp at or before it has been delivered, none after it. A batch
// may therefore hold fewer rows than `batch_rows`, or more when more than `batch_rows` rows
// share one timestamp. Rows whose timestamp is NULL are never pulled incrementally, and a row
// committed later with a timestamp at or before a watermark already passed is missed: use a
// timestamp the writer sets when it commits in order (an ingestion time), not an event time.
//
// The session runs with TimeZone UTC and DateStyle ISO: `timestamp with time zone` comes out as
// "2026-11-24 06:00:00.5+00", which ParseTimestampMicros reads; `timestamp without time zone`
// is taken as UTC. Booleans ("t"/"f") are mapped by their PostgreSQL type.
//
// Errors: a connection that fails (unreachable server, wrong password, lost mid-pull) is
// UNAVAILABLE naming the URI with its password redacted; an SQL error (no such table, bad query,
// no permission) is INVALID_ARGUMENT with PostgreSQL's message; result columns that do not match
// the schema are INVALID_ARGUMENT naming the column.
//
// Thread-safety: the free functions are thread-safe. A PostgresPull is used by one thread at a
// time; separate pulls are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "data/batch_readers.h"
#include "data/table_schema.h"

namespace falaj::data {

struct PostgresSourceConfig {
  std::string uri;               // postgresql://user:password@host:port/database[?sslmode=…]
  std::string table;             // "name" or "schema.name", case-sensitive; or …
  std::string query;             // … a SELECT; exactly one of table and query
  std::string timestamp_column;  // incremental pulls by this column; empty: full pulls
  int64_t batch_rows = 50000;

  bool operator==(const PostgresSourceConfig&) const = default;
};

// Parses {"uri": …, "table": … | "query": …, "timestamp_column": …, "batch_rows": 50000}.
// Unknown keys, a URI that is not postgresql:// (or postgres://) or that libpq cannot parse,
// both or neither of table and query, a table or timestamp column that is not a plain
// identifier ([A-Za-z_][A-Za-z0-9_$]*, at most 63 bytes; a table may be schema-qualified), an
// empty query, or batch_rows outside 1 to 1,000,000 are INVALID_ARGUMENT naming the key.
// Identifiers are double-quoted in the SQL; the query runs as a subquery, never spliced into
// other text. A trailing ';' of the query is dropped.
Result<PostgresSourceConfig> ParsePostgresConfig(const nlohmann::json& json);
// The checks ParsePostgresConfig makes, for a config built in code.
Status ValidatePostgresConfig(const PostgresSourceConfig& config);
// The config in ParsePostgresConfig's format; with `redact_password` the URI's password (in the
// user information or a password= parameter) is written as "***".
nlohmann::json PostgresConfigJson(const PostgresSourceConfig& config, bool redact_password);
// `uri` with any password replaced by "***", for messages and logs.
std::string RedactPostgresUri(std::string_view uri);

// The statement a pull declares its cursor for: SELECT * FROM "schema"."table", or
// SELECT * FROM (<query>) AS falaj_source, then for incremental pulls WHERE "ts" > $1 ORDER BY
// "ts" ($1: the watermark as ISO 8601 text) or, for the first one, WHERE "ts" IS NOT NULL
// ORDER BY "ts". Exposed for logs and tests.
Result<std::string> PostgresPullSql(const PostgresSourceConfig& config, bool after_watermark);

struct PulledBatch {
  DeliveredBatch batch;              // typed rows and the quarantine
  std::optional<int64_t> watermark;  // µs; the pull's `after` until a timestamp is seen
  int64_t rows_read = 0;             // rows read from PostgreSQL into this batch
  bool more = false;                 // false: the pull has ended with this batch
};

class PostgresPull {
 public:
  // Connects, checks that the result's columns are exactly the schema's (and that the
  // timestamp column is a timestamp in both), and opens the cursor over the rows after
  // `after_micros` (all rows when nullopt; ignored for full pulls).
  static Result<std::unique_ptr<PostgresPull>> Open(const PostgresSourceConfig& config,
                                                    const TableSchema& schema,
                                                    std::optional<int64_t> after_micros);
  ~PostgresPull();
  PostgresPull(const PostgresPull&) = delete;
  PostgresPull& operator=(const PostgresPull&) = delete;

  // The next batch. Call until `more` is false; after that it returns empty batches. The
  // connection is closed as soon as the last row has been read. Persisting each batch's
  // watermark with the batch makes an interrupted pull resumable without loss or repeats.
  Result<PulledBatch> Next();

  struct Impl;  // the libpq connection and cursor; defined in postgres_source.cc

 private:
  explicit PostgresPull(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One batch from a fresh pull (Open, Next, close). Looping on it with each batch's watermark
// reads an incremental source exactly, each call in its own snapshot. A full pull cannot be
// resumed that way: when `more` is true, read it with PostgresPull instead.
Result<PulledBatch> PullPostgres(const PostgresSourceConfig& config, const TableSchema& schema,
                                 std::optional<int64_t> after_micros);

}  // namespace falaj::data
