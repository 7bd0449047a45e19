#include "security/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/encoding.h"
#include "security/signing_key.h"

namespace falaj::security {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return FromUnixMillis(ms_.load()); }
  void Advance(std::chrono::milliseconds by) { ms_ += by.count(); }

 private:
  std::atomic<int64_t> ms_{1'700'000'000'000};
};

AuditRecord MakeRecord(int i) {
  AuditRecord record{1000 + i,
                     "req-" + std::to_string(i),
                     i % 3 == 0 ? "key:alice" : "key:bob",
                     "projects.write",
                     "POST",
                     "/api/v1/projects/p" + std::to_string(i % 5),
                     201};
  record.source = "10.0.0." + std::to_string(i % 250);
  record.outcome = "allowed";
  return record;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_audit_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(AuditLog::Migrations()));
    auto key = SigningKey::Generate();
    ASSERT_TRUE(key) << key.error().message;
    key_ = std::make_unique<SigningKey>(std::move(*key));
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(directory_);
  }

  std::unique_ptr<AuditLog> MakeLog(int64_t every_entries) {
    AuditCheckpointPolicy policy;
    policy.every_entries = every_entries;
    return std::make_unique<AuditLog>(*store_, key_.get(), policy, clock_);
  }

  void Fill(AuditLog& log, int count) {
    for (int i = 1; i <= count; ++i) ASSERT_TRUE(log.Append(MakeRecord(i))) << i;
  }

  AuditVerifyReport Verify(AuditLog& log) {
    auto report = log.Verify(key_->PublicKeyRaw());
    EXPECT_TRUE(report) << report.error().message;
    return report ? *report : AuditVerifyReport{};
  }

  void Sql(std::string_view sql, const std::vector<storage::SqlValue>& params = {}) {
    ASSERT_TRUE(store_->RunTransaction(
        storage::TransactionMode::kReadWrite,
        [&](storage::Transaction& tx) -> Status { return tx.Run(sql, params); }));
  }

  std::string HashOf(int64_t seq) {
    std::string hash;
    EXPECT_TRUE(store_->RunTransaction(
        storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
          auto rows = tx.Query("SELECT hash FROM audit_events WHERE seq = ?", {seq});
          if (rows && !rows->empty()) hash = rows->at(0).Text(0);
          return Ok();
        }));
    return hash;
  }

  int64_t Count(std::string_view sql) {
    int64_t count = -1;
    EXPECT_TRUE(store_->RunTransaction(storage::TransactionMode::kReadOnly,
                                       [&](storage::Transaction& tx) -> Status {
                                         auto rows = tx.Query(sql);
                                         if (rows) count = rows->at(0).Int(0);
                                         return Ok();
                                       }));
    return count;
  }

  void ExpectBroken(AuditLog& log, int64_t seq, std::string_view reason) {
    AuditVerifyReport report = Verify(log);
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.first_bad_seq, seq);
    EXPECT_EQ(report.reason, reason);
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<SigningKey> key_;
  FakeClock clock_;
};

TEST_F(AuditLogTest, ChainVerifiesAfter2500AppendsWithCheckpointsEvery1000) {
  auto log = MakeLog(1000);
  Fill(*log, 2500);
  AuditVerifyReport report = Verify(*log);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.entries, 2500);
  EXPECT_EQ(report.last_seq, 2500);
  EXPECT_EQ(report.checkpoints, 2);
  EXPECT_EQ(report.last_checkpoint_seq, 2000);
  EXPECT_EQ(report.unanchored, 500);
  EXPECT_EQ(report.head_hash, HashOf(2500));

  ASSERT_TRUE(log->Checkpoint());
  ASSERT_TRUE(log->Checkpoint());  // already covered: no second checkpoint
  EXPECT_EQ(Count("SELECT COUNT(*) FROM audit_checkpoints"), 3);
  report = Verify(*log);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.checkpoints, 3);
  EXPECT_EQ(report.unanchored, 0);

  auto latest = log->LatestCheckpoint();
  ASSERT_TRUE(latest && latest->has_value());
  EXPECT_EQ((*latest)->last_seq, 2500);
  EXPECT_EQ((*latest)->key_id, key_->KeyId());
  EXPECT_TRUE(
      VerifyEd25519(key_->PublicKeyRaw(),
                    AuditLog::CheckpointNote(2500, (*latest)->head_hash, (*latest)->signed_at_ms),
                    (*latest)->signature));

  AuditQuery query;
  query.limit = 5000;
  auto capped = log->Query(query);
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->size(), 1000u);
}

TEST_F(AuditLogTest, DetectsEditedField) {
  auto log = MakeLog(10);
  Fill(*log, 45);
  Sql("UPDATE audit_events SET principal = 'key:mallory' WHERE seq = 17");
  ExpectBroken(*log, 17, "entry 17 was modified (hash mismatch)");
}

TEST_F(AuditLogTest, DetectsDeletedRow) {
  auto log = MakeLog(10);
  Fill(*log, 45);
  Sql("DELETE FROM audit_events WHERE seq = 17");
  ExpectBroken(*log, 17, "entry 17 missing (gap between 16 and 18)");
  Sql("DELETE FROM audit_events WHERE seq IN (1, 2)");
  ExpectBroken(*log, 1, "entries 1..2 missing (the log starts at 3)");
}

TEST_F(AuditLogTest, DetectsForgedRowInsertedByRenumbering) {
  auto log = MakeLog(10);
  Fill(*log, 45);
  Sql("UPDATE audit_events SET seq = -seq WHERE seq >= 9");
  Sql("UPDATE audit_events SET seq = 1 - seq WHERE seq < 0");
  // A careful forger links the new row to entry 8 and gives it a correct hash.
  AuditRecord forged = MakeRecord(999);
  std::string prev = HashOf(8);
  std::string hash = AuditLog::ChainHash(prev, 9, forged);
  Sql("INSERT INTO audit_events (seq, time_ms, request_id, principal, action, method, resource, "
      "status, source, outcome, prev_hash, hash) VALUES (9, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {forged.time_ms, forged.request_id, forged.principal, forged.action, forged.method,
       forged.resource, int64_t{forged.status}, forged.source, forged.outcome, prev, hash});
  ExpectBroken(*log, 9, "entry 9 inserted or reordered (entry 10's prev_hash links to entry 8)");

  // A careless one does not link at all.
  Sql("UPDATE audit_events SET prev_hash = ? WHERE seq = 9", {std::string(64, 'a')});
  ExpectBroken(*log, 9, "entry 9 inserted or reordered (prev_hash does not link)");
}

TEST_F(AuditLogTest, DetectsSwappedRows) {
  auto log = MakeLog(10);
  Fill(*log, 45);
  // Move every column but seq of entries 5 and 6 into each other's place.
  constexpr std::string_view kColumns =
      "time_ms, request_id, principal, action, method, resource, status, source, outcome, "
      "prev_hash, hash";
  Sql(fmt::format("CREATE TABLE swap AS SELECT seq, {} FROM audit_events WHERE seq IN (5, 6)",
                  kColumns));
  Sql(
      fmt::format("UPDATE audit_events SET ({}) = (SELECT {} FROM swap WHERE swap.seq = 11 - "
                  "audit_events.seq) WHERE seq IN (5, 6)",
                  kColumns, kColumns));
  ExpectBroken(*log, 5, "entry 5 inserted or reordered (prev_hash does not link)");
}

TEST_F(AuditLogTest, DetectsForgedCheckpointSignature) {
  auto log = MakeLog(10);
  Fill(*log, 45);
  Sql("UPDATE audit_checkpoints SET signature = substr(signature, 1, 10) || "
      "(CASE substr(signature, 11, 1) WHEN '0' THEN '1' ELSE '0' END) || substr(signature, 12) "
      "WHERE last_seq = 20");
  ExpectBroken(*log, 20, "checkpoint at 20 has an invalid signature");
}

TEST_F(AuditLogTest, DetectsRecomputedChainThroughCheckpoint) {
  auto log = MakeLog(10);
  Fill(*log, 45);
  // A writer who edits entry 15 and recomputes every later hash keeps the chain consistent;
  // only the signed head at 20 gives it away.
  Sql("UPDATE audit_events SET principal = 'key:mallory' WHERE seq = 15");
  for (int64_t seq = 15; seq <= 45; ++seq) {
    AuditRecord record = MakeRecord(static_cast<int>(seq));
    if (seq == 15) record.principal = "key:mallory";
    std::string prev = HashOf(seq - 1);
    Sql("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?",
        {prev, AuditLog::ChainHash(prev, seq, record), seq});
  }
  ExpectBroken(*log, 20, "checkpoint at 20 does not match the chain");
}

TEST_F(AuditLogTest, DetectsTruncatedTailBeforeCheckpoint) {
  auto log = MakeLog(10);
  Fill(*log, 45);
  Sql("DELETE FROM audit_events WHERE seq > 33");
  ExpectBroken(*log, 34,
               "entries 34..40 missing (the log ends at 33, but checkpoint at 40 signed it)");
}

TEST_F(AuditLogTest, DifferentPublicKeyFailsOnCheckpoints) {
  auto log = MakeLog(10);
  Fill(*log, 25);
  auto other = SigningKey::Generate();
  ASSERT_TRUE(other);
  auto report = log->Verify(other->PublicKeyRaw());
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_seq, 10);
  EXPECT_THAT(report->reason, StartsWith("checkpoint at 10 has an invalid signature"));
  EXPECT_THAT(report->reason, HasSubstr(other->KeyId()));

  auto malformed = log->Verify("short");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(AuditLogTest, ConcurrentAppendsFormOneContiguousChain) {
  auto log = MakeLog(50);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        AuditRecord record = MakeRecord(i);
        record.principal = "key:thread" + std::to_string(t);
        if (!log->Append(record)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  AuditVerifyReport report = Verify(*log);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.entries, 800);
  EXPECT_EQ(report.last_seq, 800);
  EXPECT_EQ(report.checkpoints, 16);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT principal) FROM audit_events"), 8);
}

TEST_F(AuditLogTest, TimeRuleCheckpointsAtAppend) {
  AuditCheckpointPolicy policy;
  policy.every_entries = 0;
  policy.max_interval = std::chrono::seconds(60);
  AuditLog log(*store_, key_.get(), policy, clock_);
  Fill(log, 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM audit_checkpoints"), 0);
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(log.Append(MakeRecord(4)));
  ASSERT_TRUE(log.Append(MakeRecord(5)));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM audit_checkpoints"), 1);
  EXPECT_EQ(Count("SELECT last_seq FROM audit_checkpoints"), 4);
  AuditVerifyReport report = Verify(log);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.unanchored, 1);
}

TEST_F(AuditLogTest, WithoutKeyChainsButDoesNotSign) {
  AuditLog log(*store_);
  Fill(log, 5);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM audit_checkpoints"), 0);
  EXPECT_EQ(log.Checkpoint().error().code, ErrorCode::kFailedPrecondition);
  AuditVerifyReport report = Verify(log);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.unanchored, 5);
}

TEST_F(AuditLogTest, AdoptsRowsWrittenBeforeTheChainOnce) {
  std::filesystem::path legacy_dir = directory_ / "legacy";
  auto legacy = storage::OpenMetadataStore("sqlite://" + (legacy_dir / "m.db").string(), 1);
  ASSERT_TRUE(legacy);
  storage::MigrationSet v1{"audit", {AuditLog::Migrations().migrations.at(0)}};
  ASSERT_TRUE((*legacy)->Migrate(v1));
  ASSERT_TRUE((*legacy)->RunTransaction(
      storage::TransactionMode::kReadWrite, [](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO audit_events (time_ms, request_id, principal, action, method, resource, "
            "status) VALUES (1, 'r1', 'key:a', 'x', 'GET', '/', 200), (2, 'r2', 'key:b', 'x', "
            "'GET', '/', 200)");
      }));
  ASSERT_TRUE((*legacy)->Migrate(AuditLog::Migrations()));
  AuditLog log(**legacy, key_.get(), AuditCheckpointPolicy{}, clock_);
  auto before = log.Verify(key_->PublicKeyRaw());
  ASSERT_TRUE(before);
  EXPECT_EQ(before->reason, "entry 1 has no hash (written before the chain existed)");
  ASSERT_TRUE(log.Append(MakeRecord(3)));
  auto after = log.Verify(key_->PublicKeyRaw());
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->ok) << after->reason;
  EXPECT_EQ(after->entries, 3);

  // Blanking a hash later is tampering, not a legacy row: appends refuse to paper over it.
  ASSERT_TRUE((*legacy)->RunTransaction(
      storage::TransactionMode::kReadWrite, [](storage::Transaction& tx) -> Status {
        return tx.Run("UPDATE audit_events SET hash = '' WHERE seq = 3");
      }));
  auto refused = log.Append(MakeRecord(4));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDataLoss);
}

TEST_F(AuditLogTest, QueryFiltersNewestFirst) {
  AuditLog log(*store_);
  Fill(log, 30);
  AuditRecord odd = MakeRecord(31);
  odd.resource = "/api/v1/projects/a%_b/models";
  ASSERT_TRUE(log.Append(odd));

  auto all = log.Query({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 31u);
  EXPECT_EQ(all->front().request_id, "req-31");
  EXPECT_EQ(all->back().request_id, "req-1");
  EXPECT_EQ(all->back().source, "10.0.0.1");
  EXPECT_EQ(all->back().outcome, "allowed");

  AuditQuery window;
  window.from_ms = 1005;
  window.to_ms = 1010;
  auto in_window = log.Query(window);
  ASSERT_TRUE(in_window);
  ASSERT_EQ(in_window->size(), 5u);
  EXPECT_EQ(in_window->front().time_ms, 1009);
  EXPECT_EQ(in_window->back().time_ms, 1005);

  AuditQuery alice;
  alice.principal = "key:alice";
  alice.limit = 3;
  auto by_alice = log.Query(alice);
  ASSERT_TRUE(by_alice);
  ASSERT_EQ(by_alice->size(), 3u);
  for (const auto& record : *by_alice) EXPECT_EQ(record.principal, "key:alice");
  EXPECT_EQ(by_alice->front().request_id, "req-30");

  AuditQuery prefix;
  prefix.resource_prefix = "/api/v1/projects/p1";
  auto under_p1 = log.Query(prefix);
  ASSERT_TRUE(under_p1);
  EXPECT_EQ(under_p1->size(), 6u);
  prefix.resource_prefix = "/api/v1/projects/a%_";
  auto literal = log.Query(prefix);
  ASSERT_TRUE(literal);
  ASSERT_EQ(literal->size(), 1u);
  prefix.resource_prefix = "/api/v1/projects/%";
  EXPECT_TRUE(log.Query(prefix)->empty());

  AuditQuery scoped;
  scoped.resource_scopes = {"/api/v1/projects/p", "/api/v1/projects/a%_b"};
  auto in_scope = log.Query(scoped);
  ASSERT_TRUE(in_scope);
  EXPECT_EQ(in_scope->size(), 1u);  // "/api/v1/projects/p1/…" is not below "/api/v1/projects/p"
  scoped.resource_scopes = {"/api/v1/projects/p1"};
  EXPECT_EQ(log.Query(scoped)->size(), 6u);

  AuditQuery zero;
  zero.limit = 0;
  EXPECT_EQ(log.Query(zero).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(AuditLogTest, ExportWritesOneEscapedJsonObjectPerRecord) {
  auto log = MakeLog(1000);
  Fill(*log, 4);
  AuditRecord evil = MakeRecord(5);
  evil.principal = "key:x\n{\"seq\":1}\r\x1b[2J\u2028";
  evil.resource = "/p\xff\xfe";  // not UTF-8
  ASSERT_TRUE(log->Append(evil));

  std::ostringstream out;
  ASSERT_TRUE(log->ExportJsonLines(out, {}));
  std::string text = out.str();
  for (unsigned char c : text) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << int{c};
  std::istringstream lines(text);
  std::string line;
  std::vector<nlohmann::json> parsed;
  while (std::getline(lines, line)) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 5u);

  const std::set<std::string> expected{"seq",    "time_ms", "request_id", "principal",
                                       "action", "method",  "resource",   "status",
                                       "source", "outcome", "prev_hash",  "hash"};
  std::string prev(64, '0');
  for (size_t i = 0; i < parsed.size(); ++i) {
    const auto& object = parsed[i];
    std::set<std::string> keys;
    for (const auto& [key, value] : object.items()) keys.insert(key);
    EXPECT_EQ(keys, expected);
    EXPECT_EQ(object["seq"], static_cast<int64_t>(i + 1));
    EXPECT_EQ(object["prev_hash"], prev);
    prev = object["hash"].get<std::string>();
    if (i < 4) {  // the export alone suffices to recompute the chain
      AuditRecord record = MakeRecord(static_cast<int>(i + 1));
      EXPECT_EQ(object["hash"],
                AuditLog::ChainHash(object["prev_hash"].get<std::string>(), i + 1, record));
    }
  }
  EXPECT_EQ(parsed[4]["principal"], evil.principal);

  AuditQuery bob;
  bob.principal = "key:bob";
  bob.limit = 2;
  std::ostringstream filtered;
  ASSERT_TRUE(log->ExportJsonLines(filtered, bob));
  std::string bob_lines = filtered.str();
  EXPECT_EQ(std::count(bob_lines.begin(), bob_lines.end(), '\n'), 2);
  // Oldest first: seq 1 is bob's.
  EXPECT_EQ(nlohmann::json::parse(bob_lines.substr(0, bob_lines.find('\n'))), parsed[0]);
}

TEST_F(AuditLogTest, SigningKeyFileIsPrivateAndStable) {
  std::string path = (directory_ / "keys" / "audit.pem").string();
  auto created = SigningKey::LoadOrCreate(path);
  ASSERT_TRUE(created) << created.error().message;
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(created->PublicKeyRaw().size(), 32u);
  EXPECT_EQ(created->KeyId(), Sha256Hex(created->PublicKeyRaw()).substr(0, 16));

  auto reloaded = SigningKey::LoadOrCreate(path);
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->PublicKeyRaw(), created->PublicKeyRaw());
  std::string signature = reloaded->Sign("model bytes");
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(VerifyEd25519(created->PublicKeyRaw(), "model bytes", signature));

  EXPECT_EQ(*ParseEd25519PublicKey(created->PublicKeyPem()), created->PublicKeyRaw());
  EXPECT_EQ(*ParseEd25519PublicKey(HexEncode(created->PublicKeyRaw()) + "\n"),
            created->PublicKeyRaw());
  EXPECT_FALSE(ParseEd25519PublicKey("not a key"));

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_EQ(SigningKey::LoadOrCreate(path).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(SigningKey::Load((directory_ / "missing.pem").string()).error().code,
            ErrorCode::kNotFound);
  std::string junk = (directory_ / "junk.pem").string();
  std::ofstream(junk) << "hello";
  ASSERT_EQ(::chmod(junk.c_str(), 0600), 0);
  EXPECT_EQ(SigningKey::Load(junk).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(AuditLogTest, VerifyEd25519RejectsFlippedBits) {
  std::string message = "falaj-audit\n1\nabc\n0\n";
  std::string signature = key_->Sign(message);
  ASSERT_TRUE(VerifyEd25519(key_->PublicKeyRaw(), message, signature));
  for (size_t byte : {size_t{0}, size_t{31}, size_t{63}}) {
    std::string flipped = signature;
    flipped[byte] = static_cast<char>(flipped[byte] ^ 0x01);
    EXPECT_FALSE(VerifyEd25519(key_->PublicKeyRaw(), message, flipped)) << byte;
  }
  std::string altered = message;
  altered[12] = static_cast<char>(altered[12] ^ 0x01);
  EXPECT_FALSE(VerifyEd25519(key_->PublicKeyRaw(), altered, signature));
  std::string other_key = key_->PublicKeyRaw();
  other_key[0] = static_cast<char>(other_key[0] ^ 0x80);
  EXPECT_FALSE(VerifyEd25519(other_key, message, signature));
  EXPECT_FALSE(VerifyEd25519(key_->PublicKeyRaw(), message, signature.substr(1)));
  EXPECT_FALSE(VerifyEd25519("", message, signature));
}

}  // namespace
}  // namespace falaj::security
