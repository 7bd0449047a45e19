#include "jobs/command_job.h"

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/logging.h"
#include "jobs/command_spec.h"
#include "jobs/process_runner.h"

namespace falaj::jobs {
namespace {

// The job's key outlives the job's timeout by this much, so a slow start does not expire it.
constexpr int64_t kKeySlackMs = 5 * 60 * 1000;

// Revokes the job's key and its role binding however the job ends.
class KeyLease {
 public:
  KeyLease(security::ApiKeyService& keys, security::RoleBindingService& bindings,
           security::CreatedKey key, std::string project)
      : keys_(keys), bindings_(bindings), key_(std::move(key)), project_(std::move(project)) {}
  ~KeyLease() {
    if (Status revoked = keys_.Revoke(key_.info.id, project_); !revoked) {
      log::Error("cannot revoke a job's key", {{"key", key_.info.id}});
    }
    (void)bindings_.Remove(project_, key_.info.subject());
  }
  const security::CreatedKey& key() const { return key_; }

 private:
  security::ApiKeyService& keys_;
  security::RoleBindingService& bindings_;
  security::CreatedKey key_;
  std::string project_;
};

Status WriteFiles(const std::string& dir, const std::map<std::string, std::string>& files) {
  for (const auto& [name, content] : files) {
    std::ofstream file(dir + "/" + name, std::ios::binary | std::ios::trunc);
    file.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!file) return MakeError(ErrorCode::kInternal, "cannot write spec file '{}'", name);
  }
  return Ok();
}

std::vector<std::string> Environment(const CommandSpec& spec, const Job& job,
                                     const std::string& work_dir, const std::string& url,
                                     const std::string& key) {
  std::map<std::string, std::string> env;
  const char* path = std::getenv("PATH");
  env["PATH"] = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  env["HOME"] = work_dir;
  env["LANG"] = "C.UTF-8";
  env["PYTHONUNBUFFERED"] = "1";  // so output reaches the log as it is printed
  for (const auto& [name, value] : spec.env) env[name] = value;
  env["FALAJ_URL"] = url;
  env["FALAJ_PROJECT"] = job.project;
  env["FALAJ_JOB_ID"] = job.id;
  env["FALAJ_API_KEY"] = key;
  env["MLFLOW_TRACKING_URI"] = url + "/mlflow/projects/" + job.project;
  env["MLFLOW_TRACKING_TOKEN"] = key;
  std::vector<std::string> entries;
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  return entries;
}

Result<nlohmann::json> Outcome(const ProcessOutcome& outcome, const CommandSpec& spec,
                               double seconds) {
  switch (outcome.end) {
    case ProcessOutcome::End::kExited:
      if (outcome.exit_code == 0) return nlohmann::json{{"exit_code", 0}, {"seconds", seconds}};
      return MakeError(ErrorCode::kFailedPrecondition, "the command exited with code {}",
                       outcome.exit_code);
    case ProcessOutcome::End::kSignaled:
      return MakeError(ErrorCode::kFailedPrecondition, "the command was killed by signal {} ({})",
                       outcome.signal, strsignal(outcome.signal));
    case ProcessOutcome::End::kTimedOut:
      return MakeError(ErrorCode::kDeadlineExceeded,
                       "the command exceeded its timeout of {} seconds and was stopped",
                       spec.limits.timeout_seconds);
    case ProcessOutcome::End::kCancelled:
      break;
  }
  return MakeError(ErrorCode::kCancelled, "cancelled; the command was stopped");
}

}  // namespace

CommandJobs::CommandJobs(security::ApiKeyService& keys, security::RoleBindingService& bindings,
                         CommandJobOptions options)
    : keys_(keys), bindings_(bindings), options_(std::move(options)) {}

void CommandJobs::Register(JobService& jobs) {
  jobs.RegisterRunner(
      std::string(kCommandKind),
      [this](const Job& job, JobContext& context) { return Run(job, context); }, false,
      [this](const nlohmann::json& spec) { return Validate(spec); },
      [this](const Job& job) { RevokeLeftoverKey(job); });
}

Status CommandJobs::Validate(const nlohmann::json& spec) const {
  if (!options_.enabled) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "command jobs are disabled on this server; an operator may enable them with "
                     "jobs.commands_enabled: true (they run programs on the server)");
  }
  auto parsed = ParseCommandSpec(spec);
  if (!parsed) return std::unexpected(parsed.error());
  return Ok();
}

void CommandJobs::RevokeLeftoverKey(const Job& job) {
  auto keys = keys_.List(job.project);
  if (!keys) return;
  for (const auto& key : *keys) {
    if (key.name != "job-" + job.id || key.revoked_at_ms != 0) continue;
    (void)keys_.Revoke(key.id, job.project);
    (void)bindings_.Remove(job.project, key.subject());
  }
}

Result<nlohmann::json> CommandJobs::Run(const Job& job, JobContext& context) {
  FALAJ_RETURN_IF_ERROR(Validate(job.spec));
  FALAJ_ASSIGN_OR_RETURN(CommandSpec spec, ParseCommandSpec(job.spec));
  const std::string work_dir = options_.work_root + "/" + job.id;
  std::error_code fs_error;
  std::filesystem::remove_all(work_dir, fs_error);
  std::filesystem::create_directories(work_dir, fs_error);
  if (fs_error) {
    return MakeError(ErrorCode::kInternal, "cannot create the work directory: {}",
                     fs_error.message());
  }
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_dir{work_dir};
  FALAJ_RETURN_IF_ERROR(WriteFiles(work_dir, spec.files));

  int64_t now_ms = ToUnixMillis(SystemClock::Instance().Now());
  FALAJ_ASSIGN_OR_RETURN(
      auto created,
      keys_.Create({"job-" + job.id, false, job.project,
                    now_ms + spec.limits.timeout_seconds * 1000 + kKeySlackMs, "job:" + job.id}));
  KeyLease lease(keys_, bindings_, std::move(created), job.project);
  FALAJ_RETURN_IF_ERROR(bindings_.Set(job.project, lease.key().info.subject(), "developer"));
  context.AllowReporter(lease.key().info.subject());

  ProcessSpec process;
  process.argv = spec.command;
  process.env = Environment(spec, job, work_dir, options_.server_url(), lease.key().plaintext);
  process.work_dir = work_dir;
  process.cpu_seconds = spec.limits.cpu_seconds;
  process.memory_bytes = spec.limits.memory_mb << 20;
  process.timeout = std::chrono::seconds(spec.limits.timeout_seconds);
  process.kill_grace = options_.kill_grace;

  const int64_t max_log_bytes = spec.limits.max_log_mb << 20;
  int64_t logged = 0;
  bool capped = false;
  auto on_line = [&](std::string_view line) {
    if (capped) return;
    logged += static_cast<int64_t>(line.size()) + 1;
    if (logged > max_log_bytes) {
      capped = true;
      context.Log("[falaj] output past limits.max_log_mb is discarded");
      return;
    }
    context.Log(line);
  };
  auto started = std::chrono::steady_clock::now();
  FALAJ_ASSIGN_OR_RETURN(auto outcome,
                         RunProcess(process, on_line, [&] { return context.CancelRequested(); }));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Outcome(outcome, spec, seconds);
}

}  // namespace falaj::jobs
