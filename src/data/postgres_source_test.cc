// PostgresPull against a real PostgreSQL 15 that the suite starts in a temporary directory
// (initdb, pg_ctl) on an ephemeral port, with password authentication. As root — CI runs as root
// and initdb refuses root — the server's commands run as the 'postgres' user through runuser.
#include "data/postgres_source.h"

#include <arrow/api.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "data/value_parsing.h"

extern char** environ;

namespace falaj::data {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::string_view kBin = "/usr/lib/postgresql/15/bin/";
constexpr std::string_view kPassword = "s3cret-pw";

int64_t Micros(int year, unsigned month, unsigned day, int hour = 0, int minute = 0,
               int second = 0) {
  using namespace std::chrono;
  sys_days date =
      year_month_day{std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)};
  return duration_cast<microseconds>(date.time_since_epoch() + hours(hour) + minutes(minute) +
                                     seconds(second))
      .count();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

class PostgresServer {
 public:
  bool Start() {
    std::string pattern = (fs::temp_directory_path() / "falaj-pg-XXXXXX").string();
    if (!mkdtemp(pattern.data())) return false;
    dir_ = pattern;
    if (geteuid() == 0) {
      const passwd* user = getpwnam("postgres");
      if (!user) user = getpwnam("nobody");
      if (!user) return false;
      run_as_ = user->pw_name;
      uid_ = user->pw_uid;
      gid_ = user->pw_gid;
      if (chown(dir_.c_str(), uid_, gid_) != 0) return false;
    }
    std::ofstream(dir_ / "pw") << kPassword << "\n";
    if (!run_as_.empty() && chown((dir_ / "pw").c_str(), uid_, gid_) != 0) return false;
    if (Run({std::string(kBin) + "initdb", "-D", (dir_ / "data").string(), "-U", "falaj",
             "--pwfile=" + (dir_ / "pw").string(), "-A", "scram-sha-256", "-E", "UTF8",
             "--no-sync"}) != 0) {
      return false;
    }
    for (int attempt = 0; attempt < 5 && port_ < 0; ++attempt) {
      int port = FreePort();
      std::string options = fmt::format("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                                        port, dir_.string());
      if (Run({std::string(kBin) + "pg_ctl", "-D", (dir_ / "data").string(), "-l",
               (dir_ / "server.log").string(), "-w", "-t", "60", "-o", options, "start"}) == 0) {
        port_ = port;
      }
    }
    if (port_ < 0) return false;
    // pg_ctl -w has waited for the postmaster; confirm it accepts connections, with a deadline.
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (PQping(Uri().c_str()) != PQPING_OK) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  ~PostgresServer() {
    if (port_ >= 0)
      Run({std::string(kBin) + "pg_ctl", "-D", (dir_ / "data").string(), "-m", "fast", "-w",
           "stop"});
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string Uri(std::string_view password = kPassword) const {
    return fmt::format("postgresql://falaj:{}@127.0.0.1:{}/postgres", password, port_);
  }
  int port() const { return port_; }
  const fs::path& dir() const { return dir_; }

  void Exec(const std::string& sql) const {
    PGconn* connection = PQconnectdb(Uri().c_str());
    ASSERT_EQ(PQstatus(connection), CONNECTION_OK) << PQerrorMessage(connection);
    PQsetNoticeProcessor(
        connection, [](void*, const char*) {}, nullptr);
    PGresult* result = PQexec(connection, sql.c_str());
    auto status = PQresultStatus(result);
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << PQresultErrorMessage(result);
    PQclear(result);
    PQfinish(connection);
  }

 private:
  // Runs a server command (as the server's user when we are root); output goes to cmd.log.
  int Run(std::vector<std::string> argv) const {
    if (!run_as_.empty()) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", run_as_, "--"});
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    std::string log = (dir_ / "cmd.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return -1;
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  fs::path dir_;
  std::string run_as_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int port_ = -1;
};

ColumnSchema Column(std::string name, ColumnType type) {
  ColumnSchema column;
  column.name = std::move(name);
  column.type = type;
  return column;
}

std::shared_ptr<arrow::Scalar> At(const arrow::Table& table, const std::string& column,
                                  int64_t row) {
  return table.GetColumnByName(column)->GetScalar(row).ValueOrDie();
}
int64_t Int(const arrow::Table& table, const std::string& column, int64_t row) {
  return std::static_pointer_cast<arrow::Int64Scalar>(At(table, column, row))->value;
}
int64_t Time(const arrow::Table& table, const std::string& column, int64_t row) {
  return std::static_pointer_cast<arrow::TimestampScalar>(At(table, column, row))->value;
}
std::vector<int64_t> Ints(const PulledBatch& pulled, const std::string& column) {
  std::vector<int64_t> out;
  for (int64_t row = 0; row < pulled.batch.rows->num_rows(); ++row) {
    out.push_back(Int(*pulled.batch.rows, column, row));
  }
  return out;
}

class PostgresSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new PostgresServer;
    started_ = server_->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(started_) << "PostgreSQL did not start; logs in " << server_->dir();
    // ticks: six rows, three of them sharing one timestamp.
    server_->Exec(
        "CREATE TABLE IF NOT EXISTS ticks (n bigint, ts timestamptz);"
        "TRUNCATE ticks;"
        "INSERT INTO ticks VALUES (1, '2026-11-24 06:00:01+00'), (2, '2026-11-24 06:00:02+00'),"
        " (3, '2026-11-24 06:00:02+00'), (4, '2026-11-24 06:00:02+00'),"
        " (5, '2026-11-24 06:00:03+00'), (6, '2026-11-24 06:00:04+00')");
  }

  PostgresSourceConfig Config(std::string table, std::string timestamp_column = "") {
    PostgresSourceConfig config;
    config.uri = server_->Uri();
    config.table = std::move(table);
    config.timestamp_column = std::move(timestamp_column);
    return config;
  }
  static TableSchema Ticks() {
    return TableSchema{{Column("n", ColumnType::kInt64), Column("ts", ColumnType::kTimestamp)}};
  }

  static inline PostgresServer* server_ = nullptr;
  static inline bool started_ = false;
};

TEST(PostgresTimestamps, ParseTimestampMicrosReadsPostgresTextOutput) {
  const int64_t six = Micros(2026, 11, 24, 6);
  EXPECT_EQ(ParseTimestampMicros("2026-11-24 06:00:00+00"), six);
  EXPECT_EQ(ParseTimestampMicros("2026-11-24 06:00:00.123456+00"), six + 123456);
  EXPECT_EQ(ParseTimestampMicros("2026-11-24 06:00:00.5+00"), six + 500000);
  EXPECT_EQ(ParseTimestampMicros("2026-11-24 11:30:00+05:30"), six);
  EXPECT_EQ(ParseTimestampMicros("2026-11-24 03:00:00-03"), six);
  EXPECT_EQ(ParseTimestampMicros("2026-11-24 06:00:00"), six);  // timestamp without time zone
  EXPECT_EQ(ParseTimestampMicros("2026-11-24"), Micros(2026, 11, 24));
  // Not readable, so quarantined: PostgreSQL's special values, BC dates, and offsets with
  // seconds (historical zones; the pull's session is in UTC, which never prints them).
  EXPECT_FALSE(ParseTimestampMicros("infinity"));
  EXPECT_FALSE(ParseTimestampMicros("0044-03-15 12:00:00+00 BC"));
  EXPECT_FALSE(ParseTimestampMicros("1890-01-01 00:00:00+05:53:28"));
}

TEST(PostgresConfig, ParsesStrictlyAndRedacts) {
  nlohmann::json good = {{"uri", "postgresql://ingest:pw@db.local:5432/shop?sslmode=require"},
                         {"table", "public.orders"},
                         {"timestamp_column", "updated_at"}};
  auto config = ParsePostgresConfig(good);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->batch_rows, 50000);
  EXPECT_EQ(*ParsePostgresConfig(PostgresConfigJson(*config, false)), *config);
  auto shown = PostgresConfigJson(*config, /*redact_password=*/true).dump();
  EXPECT_EQ(shown.find(":pw@"), std::string::npos) << shown;
  EXPECT_NE(shown.find("postgresql://ingest:***@db.local"), std::string::npos) << shown;
  EXPECT_EQ(RedactPostgresUri("postgres://u@h/db?password=x%40y&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(RedactPostgresUri("postgresql://u:p@ss@h/db"), "postgresql://u:***@h/db");

  auto refused = [&](nlohmann::json json, std::string_view key) {
    auto parsed = ParsePostgresConfig(json);
    ASSERT_FALSE(parsed) << json.dump();
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(key), std::string::npos) << parsed.error().message;
  };
  auto with = [&](std::string key, nlohmann::json value) {
    nlohmann::json json = good;
    json[key] = std::move(value);
    return json;
  };
  refused(with("colour", "blue"), "colour");
  refused(with("uri", "mysql://h/db"), "uri");
  refused(with("uri", "postgresql://h:notaport/db?nosuchparam=1"), "uri");
  refused(with("query", "SELECT 1"), "query");  // both table and query
  refused(with("batch_rows", 0), "batch_rows");
  refused(with("timestamp_column", "ts desc"), "timestamp_column");
  for (const char* table : {"orders; DROP TABLE orders", "orders\"--", "\"orders\"", "a.b.c",
                            " orders", "1orders", "orders--", "", "robert'); DROP TABLE x;--"}) {
    refused(with("table", table), "table");
  }
  nlohmann::json neither = good;
  neither.erase("table");
  refused(neither, "table");
  neither["query"] = " ;; ";
  refused(neither, "query");

  auto query = ParsePostgresConfig({{"uri", "postgresql://h/db"},
                                    {"query", "SELECT n, ts FROM ticks -- note;\n;"},
                                    {"timestamp_column", "ts"}});
  ASSERT_TRUE(query);
  EXPECT_EQ(*PostgresPullSql(*query, true),
            "SELECT * FROM (\nSELECT n, ts FROM ticks -- note\n) AS falaj_source "
            "WHERE \"ts\" > $1 ORDER BY \"ts\"");
  EXPECT_EQ(*PostgresPullSql(*config, false),
            "SELECT * FROM \"public\".\"orders\" WHERE \"updated_at\" IS NOT NULL "
            "ORDER BY \"updated_at\"");
}

TEST_F(PostgresSourceTest, FullPullConvertsTypesNullsAndQuarantinesBadValues) {
  server_->Exec(
      "CREATE TABLE events (id bigint, score double precision, label text, ok boolean,"
      " at timestamptz, local_at timestamp, reading text);"
      "INSERT INTO events VALUES"
      " (1, 1.5, 'a', true, '2026-11-24 06:00:00+00', '2026-11-24 06:00:00', '10'),"
      " (2, NULL, NULL, false, '2026-11-24 06:00:00.25+00', NULL, NULL),"
      " (3, -2, 'c', NULL, '2026-11-24 07:30:00+02', '2026-11-24 05:30:00', 'n/a'),"
      " (4, 'NaN', 'd', true, NULL, NULL, '7')");
  TableSchema schema{{Column("id", ColumnType::kInt64), Column("score", ColumnType::kFloat64),
                      Column("label", ColumnType::kString), Column("ok", ColumnType::kBool),
                      Column("at", ColumnType::kTimestamp),
                      Column("local_at", ColumnType::kTimestamp),
                      Column("reading", ColumnType::kInt64)}};
  auto pulled = PullPostgres(Config("events"), schema, std::nullopt);
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_FALSE(pulled->more);
  EXPECT_EQ(pulled->rows_read, 4);
  EXPECT_EQ(pulled->batch.delivered, 4);
  EXPECT_FALSE(pulled->watermark);  // a full pull has none
  const arrow::Table& rows = *pulled->batch.rows;
  ASSERT_EQ(rows.num_rows(), 3);
  std::map<int64_t, int64_t> row_of_id;
  for (int64_t r = 0; r < 3; ++r) row_of_id[Int(rows, "id", r)] = r;
  ASSERT_EQ(row_of_id.size(), 3u);
  ASSERT_FALSE(row_of_id.contains(3));
  int64_t first = row_of_id[1], second = row_of_id[2], fourth = row_of_id[4];
  EXPECT_EQ(At(rows, "score", first)->ToString(), "1.5");
  EXPECT_EQ(At(rows, "label", first)->ToString(), "a");
  EXPECT_TRUE(std::static_pointer_cast<arrow::BooleanScalar>(At(rows, "ok", first))->value);
  EXPECT_FALSE(std::static_pointer_cast<arrow::BooleanScalar>(At(rows, "ok", second))->value);
  EXPECT_EQ(Time(rows, "at", first), Micros(2026, 11, 24, 6));
  EXPECT_EQ(Time(rows, "local_at", first), Micros(2026, 11, 24, 6));  // read as UTC
  EXPECT_EQ(Time(rows, "at", second), Micros(2026, 11, 24, 6) + 250000);
  EXPECT_EQ(Int(rows, "reading", first), 10);
  for (const char* column : {"score", "label", "local_at", "reading"}) {
    EXPECT_FALSE(At(rows, column, second)->is_valid) << column;
  }
  EXPECT_TRUE(
      std::isnan(std::static_pointer_cast<arrow::DoubleScalar>(At(rows, "score", fourth))->value));
  EXPECT_FALSE(At(rows, "at", fourth)->is_valid);

  auto quarantine = pulled->batch.quarantine->Finish();
  ASSERT_TRUE(quarantine);
  ASSERT_EQ((*quarantine)->num_rows(), 1);
  EXPECT_EQ(At(**quarantine, "reading", 0)->ToString(), "n/a");
  EXPECT_EQ(At(**quarantine, "at", 0)->ToString(), "2026-11-24 05:30:00+00");
  std::string rule = At(**quarantine, "_falaj_rule", 0)->ToString();
  EXPECT_NE(rule.find("reading"), std::string::npos) << rule;
}

TEST_F(PostgresSourceTest, IncrementalPullsDeliverEachRowOnce) {
  server_->Exec("INSERT INTO ticks VALUES (99, NULL)");  // no timestamp: never pulled
  auto first = PullPostgres(Config("ticks", "ts"), Ticks(), std::nullopt);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(Ints(*first, "n"), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(first->watermark, Micros(2026, 11, 24, 6, 0, 4));
  EXPECT_FALSE(first->more);

  server_->Exec(
      "INSERT INTO ticks VALUES (7, '2026-11-24 06:00:04.000001+00'),"
      " (8, '2026-11-24 06:00:05+00')");
  auto second = PullPostgres(Config("ticks", "ts"), Ticks(), first->watermark);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(Ints(*second, "n"), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(second->watermark, Micros(2026, 11, 24, 6, 0, 5));

  auto third = PullPostgres(Config("ticks", "ts"), Ticks(), second->watermark);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(third->rows_read, 0);
  EXPECT_EQ(third->watermark, second->watermark);
  EXPECT_FALSE(third->more);
}

TEST_F(PostgresSourceTest, BatchesEndAtTimestampBoundaries) {
  auto config = Config("public.ticks", "ts");
  config.batch_rows = 2;
  auto pull = PostgresPull::Open(config, Ticks(), std::nullopt);
  ASSERT_TRUE(pull) << pull.error().message;
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> watermarks;
  for (bool more = true; more;) {
    auto batch = (*pull)->Next();
    ASSERT_TRUE(batch) << batch.error().message;
    batches.push_back(Ints(*batch, "n"));
    watermarks.push_back(*batch->watermark);
    more = batch->more;
  }
  EXPECT_EQ(batches, (std::vector<std::vector<int64_t>>{{1}, {2, 3, 4}, {5, 6}}));
  EXPECT_EQ(watermarks,
            (std::vector<int64_t>{Micros(2026, 11, 24, 6, 0, 1), Micros(2026, 11, 24, 6, 0, 2),
                                  Micros(2026, 11, 24, 6, 0, 4)}));
  auto after_end = (*pull)->Next();
  ASSERT_TRUE(after_end);
  EXPECT_EQ(after_end->rows_read, 0);
  EXPECT_FALSE(after_end->more);

  // Each call a fresh pull from the last watermark: the same rows, none twice.
  std::vector<int64_t> seen;
  std::optional<int64_t> watermark;
  for (bool more = true; more;) {
    auto batch = PullPostgres(config, Ticks(), watermark);
    ASSERT_TRUE(batch) << batch.error().message;
    for (int64_t n : Ints(*batch, "n")) seen.push_back(n);
    watermark = batch->watermark;
    more = batch->more;
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(PostgresSourceTest, FullPullStreamsInBatches) {
  auto config = Config("ticks");
  config.batch_rows = 4;
  auto pull = PostgresPull::Open(config, Ticks(), std::nullopt);
  ASSERT_TRUE(pull) << pull.error().message;
  auto first = (*pull)->Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->rows_read, 4);
  EXPECT_TRUE(first->more);
  auto second = (*pull)->Next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->rows_read, 2);
  EXPECT_FALSE(second->more);
}

TEST_F(PostgresSourceTest, QueryFormRunsAsASubqueryWithTheWatermarkBound) {
  PostgresSourceConfig config = Config("", "ts");
  config.query = "SELECT n, ts FROM ticks WHERE n <> 3 -- not three;";
  auto pulled = PullPostgres(config, Ticks(), Micros(2026, 11, 24, 6, 0, 1));
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_EQ(Ints(*pulled, "n"), (std::vector<int64_t>{2, 4, 5, 6}));

  // timestamp without time zone is UTC, for the watermark comparison as for the values.
  config.query = "SELECT n, ts AT TIME ZONE 'UTC' AS ts FROM ticks";
  pulled = PullPostgres(config, Ticks(), Micros(2026, 11, 24, 6, 0, 2));
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_EQ(Ints(*pulled, "n"), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(pulled->watermark, Micros(2026, 11, 24, 6, 0, 4));

  for (const char* bad : {"SELEC n FROM ticks", "SELECT 1 AS n; DROP TABLE ticks",
                          "DELETE FROM ticks RETURNING n, ts"}) {
    config.query = bad;
    auto refused = PullPostgres(config, Ticks(), std::nullopt);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(refused.error().message.find("syntax error"), std::string::npos)
        << refused.error().message;
  }
  auto all = PullPostgres(Config("ticks"), Ticks(), std::nullopt);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->rows_read, 6);  // nothing was dropped or deleted
}

TEST_F(PostgresSourceTest, SqlErrorsAndMismatchedColumnsAreInvalidArgument) {
  auto missing_table = PullPostgres(Config("nosuch"), Ticks(), std::nullopt);
  ASSERT_FALSE(missing_table);
  EXPECT_EQ(missing_table.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(missing_table.error().message.find("\"nosuch\" does not exist"), std::string::npos)
      << missing_table.error().message;

  auto injected = Config("ticks; DROP TABLE ticks");
  EXPECT_EQ(PullPostgres(injected, Ticks(), std::nullopt).error().code,
            ErrorCode::kInvalidArgument);

  TableSchema wider = Ticks();
  wider.columns.push_back(Column("site", ColumnType::kString));
  auto missing = PullPostgres(Config("ticks"), wider, std::nullopt);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no column 'site'"), std::string::npos)
      << missing.error().message;

  TableSchema narrower{{Column("n", ColumnType::kInt64)}};
  auto extra = PullPostgres(Config("ticks"), narrower, std::nullopt);
  ASSERT_FALSE(extra);
  EXPECT_NE(extra.error().message.find("column 'ts'"), std::string::npos) << extra.error().message;

  PostgresSourceConfig text_ts = Config("", "ts");
  text_ts.query = "SELECT n, ts::text AS ts FROM ticks";
  auto not_a_timestamp = PullPostgres(text_ts, Ticks(), std::nullopt);
  ASSERT_FALSE(not_a_timestamp);
  EXPECT_NE(not_a_timestamp.error().message.find("timestamp_column 'ts'"), std::string::npos);
  EXPECT_FALSE(PullPostgres(Config("ticks", "n"), Ticks(), std::nullopt));  // int64 in schema
}

TEST_F(PostgresSourceTest, ConnectionFailuresAreUnavailableWithTheUriRedacted) {
  auto config = Config("ticks");
  config.uri = server_->Uri("wrong-pw-123");
  auto refused = PullPostgres(config, Ticks(), std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  const std::string& message = refused.error().message;
  EXPECT_NE(
      message.find(fmt::format("postgresql://falaj:***@127.0.0.1:{}/postgres", server_->port())),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
  EXPECT_EQ(message.find("wrong-pw-123"), std::string::npos) << message;

  config.uri = fmt::format("postgresql://falaj:{}@127.0.0.1:{}/postgres", kPassword, FreePort());
  auto unreachable = PullPostgres(config, Ticks(), std::nullopt);
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(unreachable.error().message.find(kPassword), std::string::npos);
}

}  // namespace
}  // namespace falaj::data
