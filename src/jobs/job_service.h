// The jobs subsystem: durable background jobs for long work of every kind (training, tuning,
// custom commands …). A job is a row in the MetadataStore (job_store.h) with a kind, a JSON spec,
// a status (queued → running → succeeded | failed | cancelled), progress, a result and a log
// file (job_log.h). A bounded pool of worker threads runs queued jobs in submission order; the
// queue itself is bounded (RESOURCE_EXHAUSTED when full).
//
// Kinds are registered by name before Start(). A handler runs on a worker thread with a
// TaskContext whose progress is persisted (throttled) and whose Log() appends to the job's log;
// CancelRequested() turns true on Cancel() or shutdown, and a handler returning CANCELLED ends
// the job cancelled.
//
// Crash recovery (Start): jobs found running were interrupted. A resumable kind's job is queued
// again (its attempt grows by one when it runs); any other is marked failed "interrupted by a
// server restart". Queued jobs are queued again. Shutdown asks running handlers to stop and waits
// for them; a resumable job stopped that way is left queued for the next start.
//
// Thread-safety: every public method may be called from any thread once the kinds are
// registered; RegisterKind must precede Start().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/task_context.h"
#include "jobs/job_log.h"
#include "jobs/job_store.h"

namespace falaj::jobs {

// What a handler registered with RegisterRunner sees besides the TaskContext contract.
class JobContext : public TaskContext {
 public:
  virtual const Job& job() const = 0;
  // Lets `subject` (a principal's subject, e.g. the key a command job was given) report
  // progress for this job through JobService::ReportProgressAs while it runs.
  virtual void AllowReporter(std::string subject) = 0;
};

using JobHandler = std::function<Result<nlohmann::json>(
    std::string_view project, const nlohmann::json& spec, TaskContext& context)>;
using JobRunner = std::function<Result<nlohmann::json>(const Job& job, JobContext& context)>;
// Checks a spec at submission, so a bad one is refused (INVALID_ARGUMENT naming the problem)
// instead of failing later.
using SpecValidator = std::function<Status(const nlohmann::json& spec)>;
// Cleans up after a job that a crash interrupted and that will not resume (e.g. revokes the key
// it was given).
using InterruptedHook = std::function<void(const Job& job)>;
// NOT_FOUND when the project does not exist.
using ProjectCheck = std::function<Status(std::string_view project)>;

struct JobServiceOptions {
  int workers = 2;
  size_t queue_limit = 1000;
  std::string log_dir;  // one <id>.log per job
  int64_t max_log_bytes = 16 << 20;
  std::chrono::milliseconds progress_interval{250};
  size_t max_spec_bytes = 1 << 20;
  ProjectCheck project_check = nullptr;  // null: any project
};

class JobService {
 public:
  // The store and clock must outlive this.
  JobService(storage::MetadataStore& store, JobServiceOptions options,
             const Clock& clock = SystemClock::Instance());
  // Shutdown() with a default deadline when still running.
  ~JobService();

  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  static const storage::MigrationSet& Migrations() { return JobStore::Migrations(); }
  // For the project ownership check: jobs still queued or running.
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project) {
    return JobStore::CountActiveInProject(tx, project);
  }

  void RegisterKind(std::string kind, JobHandler handler, bool resumable);
  void RegisterRunner(std::string kind, JobRunner runner, bool resumable,
                      SpecValidator validate = nullptr, InterruptedHook interrupted = nullptr);
  bool HasKind(std::string_view kind) const;

  // Recovers jobs left by a previous process, then starts the workers.
  Status Start();
  // Cancels running handlers and waits for them up to `deadline` (then keeps waiting, logging
  // that it does: a handler must honour cancellation). Idempotent.
  void Shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  // INVALID_ARGUMENT for an unknown kind (naming it) or a bad spec; NOT_FOUND for an unknown
  // project; RESOURCE_EXHAUSTED when the queue is full.
  Result<Job> Submit(std::string_view project, std::string_view kind, nlohmann::json spec,
                     std::string_view created_by);
  Result<Job> Get(std::string_view project, std::string_view id);
  Result<std::vector<Job>> List(std::string_view project, const JobFilter& filter);
  // A queued job ends cancelled at once; a running one is asked to stop and ends when its
  // handler returns. FAILED_PRECONDITION for a finished job. Returns the job as it now is.
  Result<Job> Cancel(std::string_view project, std::string_view id);
  Result<LogChunk> ReadLog(std::string_view project, std::string_view id, int64_t offset,
                           int64_t max_bytes);
  // Progress reported from outside (a command's process, with the key it was given): only a
  // subject the job's handler allowed, only while it runs (PERMISSION_DENIED otherwise).
  Status ReportProgressAs(std::string_view project, std::string_view id, std::string_view subject,
                          double fraction, std::string_view message);

  // Handlers running right now (for tests and metrics).
  size_t running() const;

 private:
  class RunningJob;
  struct Kind {
    JobRunner runner;
    bool resumable;
    SpecValidator validate;
    InterruptedHook interrupted;
  };

  void WorkerLoop();
  void RunOne(const std::string& id, const std::string& project);
  void Finish(RunningJob& running, Result<nlohmann::json> outcome);
  std::string LogPath(std::string_view id) const;
  Status Enqueue(std::string project, std::string id);

  JobStore store_;
  const JobServiceOptions options_;
  const Clock& clock_;
  std::map<std::string, Kind, std::less<>> kinds_;  // written before Start() only

  mutable std::mutex mu_;
  std::condition_variable wake_;      // workers wait for a queued job or stopping
  std::condition_variable finished_;  // Shutdown waits for running handlers
  std::deque<std::pair<std::string, std::string>> queue_;       // (project, id), guarded by mu_
  std::map<std::string, std::shared_ptr<RunningJob>> running_;  // by id, guarded by mu_
  bool started_ = false;                                        // guarded by mu_
  bool stopping_ = false;                                       // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace falaj::jobs
