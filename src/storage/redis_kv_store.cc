#include "storage/redis_kv_store.h"

#include <hiredis/hiredis.h>
#include <signal.h>

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "storage/redis_connection.h"
#include "storage/redis_uri.h"

namespace falaj::storage {
namespace {

constexpr std::string_view kScanCount = "1000";

// A prefix as a SCAN MATCH pattern: every glob metacharacter escaped, then "*".
std::string PrefixPattern(std::string_view prefix) {
  std::string pattern;
  pattern.reserve(prefix.size() * 2 + 1);
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('*');
  return pattern;
}

class RedisKvStore final : public KvStore {
 public:
  explicit RedisKvStore(RedisTarget target) : target_(std::move(target)), pool_(target_) {}

  Status Ping() {
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("PING");
    FALAJ_RETURN_IF_ERROR(lease->Execute(target_));
    return Ok();
  }

  using KvStore::Write;

  Status Write(std::span<const KvEntry> puts, KvWriteMode /*mode*/) override {
    if (puts.empty()) return Ok();
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("MSET");
    for (const KvEntry& entry : puts) {
      lease->Add(entry.key);
      lease->Add(entry.value);
    }
    FALAJ_RETURN_IF_ERROR(lease->Execute(target_));
    return Ok();
  }

  Status MultiGet(std::span<const std::string_view> keys, KvValues& out) override {
    out.Clear();
    if (keys.empty()) return Ok();
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("MGET");
    for (std::string_view key : keys) lease->Add(key);
    FALAJ_ASSIGN_OR_RETURN(ReplyPtr reply, lease->Execute(target_));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != keys.size()) {
      return MakeError(ErrorCode::kInternal, "redis '{}': MGET: unexpected reply",
                       target_.redacted);
    }
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply* element = reply->element[i];
      if (element->type == REDIS_REPLY_STRING) {
        out.AddFound({element->str, element->len});
      } else {
        out.AddMissing();  // nil: absent (or not a string, which this store never writes)
      }
    }
    return Ok();
  }

  Status Delete(std::span<const std::string_view> keys) override {
    if (keys.empty()) return Ok();
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("UNLINK");
    for (std::string_view key : keys) lease->Add(key);
    FALAJ_RETURN_IF_ERROR(lease->Execute(target_));
    return Ok();
  }

  Result<uint64_t> DeletePrefix(std::string_view prefix) override {
    if (prefix.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis '{}': refusing to delete the empty prefix (every key)",
                       target_.redacted);
    }
    const std::string pattern = PrefixPattern(prefix);
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    uint64_t deleted = 0;
    std::string cursor = "0";
    do {
      FALAJ_ASSIGN_OR_RETURN(ReplyPtr keys, Scan(*lease, cursor, pattern));
      if (keys->element[1]->elements == 0) continue;
      lease->Begin("UNLINK");
      lease->AddStrings(*keys->element[1]);
      FALAJ_ASSIGN_OR_RETURN(ReplyPtr count, lease->Execute(target_));
      if (count->type == REDIS_REPLY_INTEGER) deleted += static_cast<uint64_t>(count->integer);
    } while (cursor != "0");
    return deleted;
  }

  Status ScanPrefix(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) override {
    const std::string pattern = PrefixPattern(prefix);
    std::string cursor = "0";
    std::vector<std::pair<std::string, std::string>> batch;
    do {
      batch.clear();
      {
        // The connection goes back to the pool before `visit` runs, so it may use this store.
        FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        FALAJ_ASSIGN_OR_RETURN(ReplyPtr keys, Scan(*lease, cursor, pattern));
        const redisReply* found = keys->element[1];
        if (found->elements == 0) continue;
        lease->Begin("MGET");
        lease->AddStrings(*found);
        FALAJ_ASSIGN_OR_RETURN(ReplyPtr values, lease->Execute(target_));
        for (size_t i = 0; i < values->elements && i < found->elements; ++i) {
          const redisReply* value = values->element[i];
          if (value->type != REDIS_REPLY_STRING) continue;  // deleted since SCAN saw it
          batch.emplace_back(std::string(found->element[i]->str, found->element[i]->len),
                             std::string(value->str, value->len));
        }
      }
      for (const auto& [key, value] : batch) {
        if (!visit(key, value)) return Ok();
      }
    } while (cursor != "0");
    return Ok();
  }

  Status Flush() override { return Ok(); }

 private:
  // One SCAN step: advances `cursor` and returns the reply, whose element[1] holds the keys.
  Result<ReplyPtr> Scan(Connection& connection, std::string& cursor, const std::string& pattern) {
    connection.Begin("SCAN");
    connection.Add(cursor);
    connection.Add("MATCH");
    connection.Add(pattern);
    connection.Add("COUNT");
    connection.Add(kScanCount);
    FALAJ_ASSIGN_OR_RETURN(ReplyPtr reply, connection.Execute(target_));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
      return MakeError(ErrorCode::kInternal, "redis '{}': SCAN: unexpected reply",
                       target_.redacted);
    }
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    return reply;
  }

  const RedisTarget target_;
  ConnectionPool pool_;
};

// A server closing a connection must not kill the process: hiredis writes with write(2), which
// raises SIGPIPE. Left alone when the program chose its own disposition.
void IgnoreSigpipeIfDefault() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
        current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

Result<std::unique_ptr<KvStore>> OpenRedisKvStore(std::string_view uri) {
  FALAJ_ASSIGN_OR_RETURN(RedisTarget target, ParseRedisUri(uri));
  IgnoreSigpipeIfDefault();
  auto store = std::make_unique<RedisKvStore>(std::move(target));
  FALAJ_RETURN_IF_ERROR(store->Ping());
  return store;
}

}  // namespace falaj::storage
