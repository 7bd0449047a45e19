#include "jobs/job_service.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>

#include "common/logging.h"
#include "common/random.h"

namespace falaj::jobs {
namespace {

constexpr size_t kMaxMessageBytes = 500;
constexpr size_t kMaxKindBytes = 64;

int64_t NowMs(const Clock& clock) { return ToUnixMillis(clock.Now()); }

std::string KnownKinds(const std::vector<std::string>& kinds) {
  std::string text;
  for (const auto& kind : kinds) text += (text.empty() ? "" : ", ") + kind;
  return text.empty() ? "none" : text;
}

}  // namespace

// The context one running handler reports through. Progress goes to storage at most every
// progress_interval; the last report is flushed when the job ends.
class JobService::RunningJob : public JobContext {
 public:
  RunningJob(Job job, JobStore& store, const JobServiceOptions& options, const Clock& clock,
             std::string log_path)
      : job_(std::move(job)),
        store_(store),
        options_(options),
        clock_(clock),
        log_(std::move(log_path), options.max_log_bytes) {}

  const Job& job() const override { return job_; }

  void ReportProgress(double fraction, std::string_view message) override {
    if (std::isnan(fraction)) return;
    fraction = std::clamp(fraction, 0.0, 1.0);
    std::string text(message.substr(0, kMaxMessageBytes));
    std::lock_guard lock(mu_);
    fraction_ = fraction;
    message_ = std::move(text);
    pending_ = true;
    auto now = std::chrono::steady_clock::now();
    if (now - last_persisted_ < options_.progress_interval) return;
    last_persisted_ = now;
    PersistLocked();
  }

  void Log(std::string_view line) override { log_.Append(line); }
  bool CancelRequested() const override { return cancelled_.load(std::memory_order_acquire); }

  void AllowReporter(std::string subject) override {
    std::lock_guard lock(mu_);
    reporters_.insert(std::move(subject));
  }
  bool IsReporter(std::string_view subject) const {
    std::lock_guard lock(mu_);
    return reporters_.contains(std::string(subject));
  }

  void RequestCancel(bool by_shutdown) {
    if (by_shutdown) by_shutdown_.store(true, std::memory_order_release);
    cancelled_.store(true, std::memory_order_release);
  }
  bool cancelled_by_shutdown() const { return by_shutdown_.load(std::memory_order_acquire); }

  void FlushProgress() {
    std::lock_guard lock(mu_);
    if (pending_) PersistLocked();
  }

 private:
  void PersistLocked() {
    pending_ = false;
    if (Status saved = store_.SetProgress(job_.id, fraction_, message_); !saved) {
      log::Warn("cannot save job progress", {{"job", job_.id}, {"error", saved.error().message}});
    }
  }

  const Job job_;
  JobStore& store_;
  const JobServiceOptions& options_;
  const Clock& clock_;
  JobLog log_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> by_shutdown_{false};
  mutable std::mutex mu_;
  double fraction_ = 0;                                   // guarded by mu_
  std::string message_;                                   // guarded by mu_
  bool pending_ = false;                                  // guarded by mu_
  std::chrono::steady_clock::time_point last_persisted_;  // guarded by mu_
  std::set<std::string> reporters_;                       // guarded by mu_
};

JobService::JobService(storage::MetadataStore& store, JobServiceOptions options, const Clock& clock)
    : store_(store), options_(std::move(options)), clock_(clock) {}

JobService::~JobService() { Shutdown(); }

void JobService::RegisterKind(std::string kind, JobHandler handler, bool resumable) {
  RegisterRunner(
      std::move(kind),
      [handler = std::move(handler)](const Job& job, JobContext& context) {
        return handler(job.project, job.spec, context);
      },
      resumable);
}

void JobService::RegisterRunner(std::string kind, JobRunner runner, bool resumable,
                                SpecValidator validate, InterruptedHook interrupted) {
  kinds_[std::move(kind)] = {std::move(runner), resumable, std::move(validate),
                             std::move(interrupted)};
}

bool JobService::HasKind(std::string_view kind) const { return kinds_.contains(kind); }

std::string JobService::LogPath(std::string_view id) const {
  return options_.log_dir + "/" + std::string(id) + ".log";
}

Status JobService::Start() {
  // Jobs running when the previous process ended were interrupted.
  FALAJ_ASSIGN_OR_RETURN(auto interrupted, store_.ListInStatus(JobStatus::kRunning));
  for (const auto& job : interrupted) {
    auto kind = kinds_.find(job.kind);
    if (kind != kinds_.end() && kind->second.resumable) {
      FALAJ_RETURN_IF_ERROR(store_.Requeue(job.id));
      JobLog(LogPath(job.id), options_.max_log_bytes)
          .Append("[falaj] interrupted by a server restart; resuming");
      continue;
    }
    FALAJ_RETURN_IF_ERROR(store_.Finish(job.id, JobStatus::kFailed, nullptr,
                                        "interrupted by a server restart", NowMs(clock_)));
    JobLog(LogPath(job.id), options_.max_log_bytes)
        .Append("[falaj] failed: interrupted by a server restart");
    if (kind != kinds_.end() && kind->second.interrupted) kind->second.interrupted(job);
  }
  FALAJ_ASSIGN_OR_RETURN(auto queued, store_.ListInStatus(JobStatus::kQueued));
  std::lock_guard lock(mu_);
  for (const auto& job : queued) queue_.emplace_back(job.project, job.id);
  started_ = true;
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  return Ok();
}

void JobService::Shutdown(std::chrono::milliseconds deadline) {
  {
    std::unique_lock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, running] : running_) running->RequestCancel(true);
    wake_.notify_all();
    if (!finished_.wait_for(lock, deadline, [this] { return running_.empty(); })) {
      log::Warn("jobs still running after the shutdown deadline; waiting for them",
                {{"running", running_.size()}});
    }
  }
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

Status JobService::Enqueue(std::string project, std::string id) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= options_.queue_limit) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "the job queue is full ({} jobs waiting); try again later", queue_.size());
  }
  queue_.emplace_back(std::move(project), std::move(id));
  wake_.notify_one();
  return Ok();
}

Result<Job> JobService::Submit(std::string_view project, std::string_view kind, nlohmann::json spec,
                               std::string_view created_by) {
  auto found = kinds_.find(kind);
  if (found == kinds_.end()) {
    std::vector<std::string> names;
    for (const auto& [name, unused] : kinds_) names.push_back(name);
    return MakeError(ErrorCode::kInvalidArgument, "unknown job kind '{}' (known kinds: {})",
                     kind.substr(0, kMaxKindBytes), KnownKinds(names));
  }
  if (!spec.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "spec must be a JSON object");
  }
  if (size_t size = spec.dump().size(); size > options_.max_spec_bytes) {
    return MakeError(ErrorCode::kInvalidArgument, "spec is {} bytes; at most {} are allowed", size,
                     options_.max_spec_bytes);
  }
  if (found->second.validate) FALAJ_RETURN_IF_ERROR(found->second.validate(spec));
  if (options_.project_check) FALAJ_RETURN_IF_ERROR(options_.project_check(project));
  {
    std::lock_guard lock(mu_);
    if (stopping_) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
    if (queue_.size() >= options_.queue_limit) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "the job queue is full ({} jobs waiting); try again later", queue_.size());
    }
  }
  Job job;
  job.id = RandomHex(16);
  job.project = std::string(project);
  job.kind = std::string(kind);
  job.spec = std::move(spec);
  job.created_by = std::string(created_by);
  job.created_at_ms = NowMs(clock_);
  FALAJ_RETURN_IF_ERROR(store_.Insert(job));
  if (Status queued = Enqueue(job.project, job.id); !queued) {
    // Lost a race for the last queue slot: the job must not linger as queued.
    (void)store_.Finish(job.id, JobStatus::kFailed, nullptr, queued.error().message, NowMs(clock_));
    return std::unexpected(queued.error());
  }
  return job;
}

Result<Job> JobService::Get(std::string_view project, std::string_view id) {
  return store_.Get(project, id);
}

Result<std::vector<Job>> JobService::List(std::string_view project, const JobFilter& filter) {
  return store_.List(project, filter);
}

Result<Job> JobService::Cancel(std::string_view project, std::string_view id) {
  FALAJ_ASSIGN_OR_RETURN(Job job, store_.Get(project, id));
  if (IsFinished(job.status)) {
    return MakeError(ErrorCode::kFailedPrecondition, "job '{}' already {}", job.id,
                     JobStatusName(job.status));
  }
  {
    std::lock_guard lock(mu_);
    if (auto running = running_.find(job.id); running != running_.end()) {
      running->second->RequestCancel(false);
      return store_.Get(project, id);
    }
  }
  // Queued (or claimed by a worker this instant: Finish and Claim are both guarded by status,
  // so exactly one of them wins; if the claim won, cancel the handler it is starting).
  FALAJ_ASSIGN_OR_RETURN(bool cancelled,
                         store_.Finish(job.id, JobStatus::kCancelled, nullptr,
                                       "cancelled before it started", NowMs(clock_)));
  if (cancelled) {
    JobLog(LogPath(job.id), options_.max_log_bytes).Append("[falaj] cancelled before it started");
    std::lock_guard lock(mu_);
    std::erase_if(queue_, [&](const auto& entry) { return entry.second == job.id; });
  } else {
    std::lock_guard lock(mu_);
    if (auto running = running_.find(job.id); running != running_.end()) {
      running->second->RequestCancel(false);
    }
  }
  return store_.Get(project, id);
}

Result<LogChunk> JobService::ReadLog(std::string_view project, std::string_view id, int64_t offset,
                                     int64_t max_bytes) {
  FALAJ_ASSIGN_OR_RETURN(Job job, store_.Get(project, id));
  return JobLog::Read(LogPath(job.id), offset, max_bytes);
}

Status JobService::ReportProgressAs(std::string_view project, std::string_view id,
                                    std::string_view subject, double fraction,
                                    std::string_view message) {
  FALAJ_ASSIGN_OR_RETURN(Job job, store_.Get(project, id));
  std::shared_ptr<RunningJob> running;
  {
    std::lock_guard lock(mu_);
    if (auto found = running_.find(job.id); found != running_.end()) running = found->second;
  }
  if (!running || !running->IsReporter(subject)) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "only the running job's own key may report its progress");
  }
  running->ReportProgress(fraction, message);
  return Ok();
}

size_t JobService::running() const {
  std::lock_guard lock(mu_);
  return running_.size();
}

void JobService::WorkerLoop() {
  while (true) {
    std::pair<std::string, std::string> next;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    RunOne(next.second, next.first);
  }
}

void JobService::RunOne(const std::string& id, const std::string& project) {
  auto claimed = store_.Claim(id, NowMs(clock_));
  if (!claimed || !*claimed) return;  // cancelled while queued, or storage trouble
  auto job = store_.Get(project, id);
  if (!job) return;
  auto kind = kinds_.find(job->kind);
  auto running = std::make_shared<RunningJob>(*job, store_, options_, clock_, LogPath(id));
  {
    std::lock_guard lock(mu_);
    // A cancel between the claim and here found neither a queued nor a running job; the
    // job's own row says so no more, so check the stop flag only.
    if (stopping_) running->RequestCancel(true);
    running_[id] = running;
  }
  running->Log(fmt::format("[falaj] attempt {} of {} job started", job->attempt, job->kind));
  Result<nlohmann::json> outcome =
      MakeError(ErrorCode::kInternal, "job kind '{}' is not registered", job->kind);
  if (kind != kinds_.end()) {
    try {
      outcome = kind->second.runner(*job, *running);
    } catch (const std::exception& error) {
      outcome = MakeError(ErrorCode::kInternal, "the job handler failed: {}", error.what());
    }
  }
  Finish(*running, std::move(outcome));
  std::lock_guard lock(mu_);
  running_.erase(id);
  finished_.notify_all();
}

void JobService::Finish(RunningJob& running, Result<nlohmann::json> outcome) {
  running.FlushProgress();
  const Job& job = running.job();
  auto kind = kinds_.find(job.kind);
  bool resumable = kind != kinds_.end() && kind->second.resumable;
  if (!outcome && outcome.error().code == ErrorCode::kCancelled &&
      running.cancelled_by_shutdown()) {
    if (resumable) {
      running.Log("[falaj] stopped by a server shutdown; it resumes at the next start");
      (void)store_.Requeue(job.id);
      return;
    }
    outcome = MakeError(ErrorCode::kCancelled, "interrupted by a server shutdown");
  }
  JobStatus status = JobStatus::kSucceeded;
  nlohmann::json result;
  std::string error;
  if (outcome) {
    result = std::move(*outcome);
  } else {
    bool cancelled =
        outcome.error().code == ErrorCode::kCancelled && !running.cancelled_by_shutdown();
    status = cancelled ? JobStatus::kCancelled : JobStatus::kFailed;
    error = outcome.error().message;
  }
  running.Log(error.empty() ? fmt::format("[falaj] {}", JobStatusName(status))
                            : fmt::format("[falaj] {}: {}", JobStatusName(status), error));
  auto saved = store_.Finish(job.id, status, result, error, NowMs(clock_));
  if (!saved) {
    log::Error("cannot save a job's outcome", {{"job", job.id}, {"error", saved.error().message}});
  }
}

}  // namespace falaj::jobs
