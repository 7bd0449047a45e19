#include "jobs/job_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>

#include "common/random.h"
#include "jobs/job_test_support.h"

namespace falaj::jobs {
namespace {

using nlohmann::json;

// A kind that blocks until released, honouring cancellation, and counts how many run at once.
struct Gate {
  std::atomic<bool> open{false};
  std::atomic<int> running{0};
  std::atomic<int> peak{0};

  JobHandler Handler() {
    return [this](std::string_view, const json&, TaskContext& context) -> Result<json> {
      int now = ++running;
      for (int seen = peak.load(); now > seen && !peak.compare_exchange_weak(seen, now);) {
      }
      context.ReportProgress(0.5, "waiting at the gate");
      while (!open.load() && !context.CancelRequested()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      --running;
      if (!open.load()) return MakeError(ErrorCode::kCancelled, "stopped at the gate");
      return json{{"passed", true}};
    };
  }
};

class JobServiceTest : public JobsTestBase {};

TEST_F(JobServiceTest, RunsAJobToSuccessWithItsResultAndLog) {
  JobService service(*metadata_, Options());
  service.RegisterKind(
      "echo",
      [](std::string_view project, const json& spec, TaskContext& context) -> Result<json> {
        context.Log("hello from " + std::string(project));
        return json{{"echo", spec["text"]}};
      },
      false);
  ASSERT_TRUE(service.Start());
  auto job = service.Submit("bank", "echo", {{"text", "hi"}}, "key:alice");
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->status, JobStatus::kQueued);
  ASSERT_TRUE(Finished(service, *job, JobStatus::kSucceeded));
  auto done = service.Get("bank", job->id);
  EXPECT_EQ(done->result, (json{{"echo", "hi"}}));
  EXPECT_EQ(done->progress, 1.0);
  EXPECT_EQ(done->attempt, 1);
  EXPECT_EQ(done->created_by, "key:alice");
  EXPECT_GT(done->finished_at_ms, 0);
  auto log = service.ReadLog("bank", job->id, 0, 1 << 20);
  ASSERT_TRUE(log);
  EXPECT_NE(log->text.find("hello from bank\n"), std::string::npos) << log->text;
  auto tail = service.ReadLog("bank", job->id, log->next_offset, 1 << 20);
  EXPECT_EQ(tail->text, "");
  EXPECT_EQ(tail->next_offset, log->next_offset);
  EXPECT_EQ(service.Get("other", job->id).error().code, ErrorCode::kNotFound);
}

TEST_F(JobServiceTest, AFailingHandlerFailsTheJobWithItsMessage) {
  JobService service(*metadata_, Options());
  service.RegisterKind(
      "broken",
      [](std::string_view, const json&, TaskContext&) -> Result<json> {
        return MakeError(ErrorCode::kInvalidArgument, "column 'y' is missing");
      },
      false);
  service.RegisterKind(
      "throws",
      [](std::string_view, const json&, TaskContext&) -> Result<json> {
        throw std::runtime_error("boom");
      },
      false);
  ASSERT_TRUE(service.Start());
  auto job = service.Submit("bank", "broken", json::object(), "key:a");
  ASSERT_TRUE(Finished(service, *job, JobStatus::kFailed));
  EXPECT_EQ(service.Get("bank", job->id)->error, "column 'y' is missing");
  auto thrown = service.Submit("bank", "throws", json::object(), "key:a");
  ASSERT_TRUE(Finished(service, *thrown, JobStatus::kFailed));
  EXPECT_NE(service.Get("bank", thrown->id)->error.find("boom"), std::string::npos);
}

TEST_F(JobServiceTest, RefusesUnknownKindsBadSpecsAndUnknownProjects) {
  auto options = Options();
  options.max_spec_bytes = 100;
  options.project_check = [](std::string_view project) -> Status {
    if (project == "bank") return Ok();
    return MakeError(ErrorCode::kNotFound, "project '{}' does not exist", project);
  };
  JobService service(*metadata_, options);
  service.RegisterRunner(
      "strict", [](const Job&, JobContext&) -> Result<json> { return json(); }, false,
      [](const json& spec) -> Status {
        if (spec.contains("x")) return Ok();
        return MakeError(ErrorCode::kInvalidArgument, "spec.x is required");
      });
  ASSERT_TRUE(service.Start());
  auto unknown = service.Submit("bank", "nope", json::object(), "key:a");
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("'nope'"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("strict"), std::string::npos);
  EXPECT_EQ(service.Submit("bank", "strict", json::array(), "k").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(service.Submit("bank", "strict", json::object(), "k").error().message,
            "spec.x is required");
  auto huge = service.Submit("bank", "strict", {{"x", std::string(200, 'a')}}, "k");
  EXPECT_NE(huge.error().message.find("at most 100"), std::string::npos);
  EXPECT_EQ(service.Submit("ghost", "strict", {{"x", 1}}, "k").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(service.Submit("bank", "strict", {{"x", 1}}, "k"));
}

TEST_F(JobServiceTest, CancelsQueuedAndRunningJobs) {
  Gate gate;
  JobService service(*metadata_, Options(1));
  service.RegisterKind("gate", gate.Handler(), false);
  ASSERT_TRUE(service.Start());
  auto running = service.Submit("bank", "gate", json::object(), "k");
  ASSERT_TRUE(Eventually([&] { return gate.running.load() == 1; }));
  auto queued = service.Submit("bank", "gate", json::object(), "k");
  auto cancelled = service.Cancel("bank", queued->id);
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->status, JobStatus::kCancelled);  // at once
  ASSERT_TRUE(service.Cancel("bank", running->id));
  ASSERT_TRUE(Finished(service, *running, JobStatus::kCancelled));
  EXPECT_EQ(service.Get("bank", running->id)->error, "stopped at the gate");
  EXPECT_EQ(service.Cancel("bank", running->id).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(service.Cancel("bank", "0123").error().code, ErrorCode::kNotFound);
  // The cancelled queued job never ran: the gate saw one job only.
  EXPECT_EQ(gate.peak.load(), 1);
  EXPECT_EQ(service.Get("bank", queued->id)->attempt, 0);
}

TEST_F(JobServiceTest, NeverRunsMoreJobsThanWorkersAndRefusesPastTheQueueLimit) {
  Gate gate;
  auto options = Options(3);
  options.queue_limit = 20;
  JobService service(*metadata_, options);
  service.RegisterKind("gate", gate.Handler(), false);
  ASSERT_TRUE(service.Start());
  std::vector<Job> jobs;
  for (int i = 0; i < 23; ++i) {
    auto job = service.Submit("bank", "gate", json::object(), "k");
    ASSERT_TRUE(job) << i << ": " << job.error().message;
    jobs.push_back(*job);
  }
  ASSERT_TRUE(Eventually([&] { return gate.running.load() == 3; }));
  auto refused = service.Submit("bank", "gate", json::object(), "k");
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(service.List("bank", {JobStatus::kRunning, "", 100, 0})->size(), 3u);
  gate.open = true;
  for (const auto& job : jobs) ASSERT_TRUE(Finished(service, job, JobStatus::kSucceeded));
  EXPECT_EQ(gate.peak.load(), 3);
  auto page = service.List("bank", {std::nullopt, "gate", 5, 0});
  ASSERT_EQ(page->size(), 5u);
  EXPECT_GE(page->front().created_at_ms, page->back().created_at_ms);  // newest first
  EXPECT_EQ(service.List("bank", {std::nullopt, "other", 50, 0})->size(), 0u);
}

TEST_F(JobServiceTest, PersistsProgressAndAcceptsItOnlyFromAllowedReporters) {
  std::atomic<bool> release{false};
  JobService service(*metadata_, Options());
  service.RegisterRunner(
      "reporter",
      [&](const Job&, JobContext& context) -> Result<json> {
        context.AllowReporter("key:job");
        context.ReportProgress(0.25, "epoch 1");
        while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return json();
      },
      false);
  ASSERT_TRUE(service.Start());
  auto job = service.Submit("bank", "reporter", json::object(), "k");
  ASSERT_TRUE(Eventually([&] {
    auto now = service.Get("bank", job->id);
    return now->progress == 0.25 && now->message == "epoch 1";
  }));
  EXPECT_EQ(service.ReportProgressAs("bank", job->id, "key:other", 0.5, "x").error().code,
            ErrorCode::kPermissionDenied);
  ASSERT_TRUE(Eventually([&] { return service.running() == 1; }));
  // Reports within the throttle interval are flushed when the job ends at the latest.
  ASSERT_TRUE(service.ReportProgressAs("bank", job->id, "key:job", 7.0, "epoch 3"));
  release = true;
  ASSERT_TRUE(Finished(service, *job, JobStatus::kSucceeded));
  auto done = service.Get("bank", job->id);
  EXPECT_EQ(done->message, "epoch 3");
  EXPECT_EQ(done->progress, 1.0);
  EXPECT_EQ(service.ReportProgressAs("bank", job->id, "key:job", 0.5, "late").error().code,
            ErrorCode::kPermissionDenied);
}

TEST_F(JobServiceTest, ResumesResumableJobsAfterACrashAndFailsTheOthers) {
  std::string resumable_id, plain_id, queued_id;
  {
    // The first "process": claims two jobs, then vanishes without finishing them (its workers
    // never return until the store says so).
    JobStore store(*metadata_);
    for (auto* id : {&resumable_id, &plain_id, &queued_id}) {
      Job job;
      job.id = RandomHex(16);
      job.project = "bank";
      job.kind = id == &plain_id ? "plain" : "resumable";
      job.spec = json::object();
      job.created_at_ms = 1;
      ASSERT_TRUE(store.Insert(job));
      *id = job.id;
    }
    ASSERT_TRUE(*store.Claim(resumable_id, 2));
    ASSERT_TRUE(*store.Claim(plain_id, 2));
  }
  std::atomic<int> resumed_attempt{0};
  JobService service(*metadata_, Options());
  service.RegisterRunner(
      "resumable",
      [&](const Job& job, JobContext&) -> Result<json> {
        if (job.id == resumable_id) resumed_attempt = static_cast<int>(job.attempt);
        return json{{"attempt", job.attempt}};
      },
      true);
  service.RegisterKind(
      "plain", [](std::string_view, const json&, TaskContext&) -> Result<json> { return json(); },
      false);
  ASSERT_TRUE(service.Start());
  Job resumable = Ref(resumable_id), queued = Ref(queued_id);
  ASSERT_TRUE(Finished(service, resumable, JobStatus::kSucceeded));
  EXPECT_EQ(resumed_attempt.load(), 2);
  ASSERT_TRUE(Finished(service, queued, JobStatus::kSucceeded));
  auto failed = service.Get("bank", plain_id);
  EXPECT_EQ(failed->status, JobStatus::kFailed);
  EXPECT_EQ(failed->error, "interrupted by a server restart");
  auto log = service.ReadLog("bank", plain_id, 0, 1 << 20);
  EXPECT_NE(log->text.find("interrupted by a server restart"), std::string::npos);
}

TEST_F(JobServiceTest, ShutdownStopsRunningJobsAndLeavesResumableOnesQueued) {
  Gate plain_gate, resumable_gate;
  std::string plain_id, resumable_id;
  {
    JobService service(*metadata_, Options(2));
    service.RegisterKind("plain", plain_gate.Handler(), false);
    service.RegisterKind("resumable", resumable_gate.Handler(), true);
    ASSERT_TRUE(service.Start());
    plain_id = service.Submit("bank", "plain", json::object(), "k")->id;
    resumable_id = service.Submit("bank", "resumable", json::object(), "k")->id;
    ASSERT_TRUE(Eventually([&] { return service.running() == 2; }));
    service.Shutdown();
    EXPECT_EQ(service.Get("bank", plain_id)->status, JobStatus::kFailed);
    EXPECT_EQ(service.Get("bank", plain_id)->error, "interrupted by a server shutdown");
    EXPECT_EQ(service.Get("bank", resumable_id)->status, JobStatus::kQueued);
  }
  resumable_gate.open = true;
  JobService restarted(*metadata_, Options());
  restarted.RegisterKind("resumable", resumable_gate.Handler(), true);
  ASSERT_TRUE(restarted.Start());
  ASSERT_TRUE(Finished(restarted, Ref(resumable_id), JobStatus::kSucceeded));
  EXPECT_EQ(restarted.Get("bank", resumable_id)->attempt, 2);
}

TEST_F(JobServiceTest, CapsTheLogWithATruncationNote) {
  auto options = Options();
  options.max_log_bytes = 1000;
  JobService service(*metadata_, options);
  service.RegisterKind(
      "chatty",
      [](std::string_view, const json&, TaskContext& context) -> Result<json> {
        for (int i = 0; i < 1000; ++i) context.Log(fmt::format("line {:04}", i));
        return json();
      },
      false);
  ASSERT_TRUE(service.Start());
  auto job = service.Submit("bank", "chatty", json::object(), "k");
  ASSERT_TRUE(Finished(service, *job, JobStatus::kSucceeded));
  auto log = service.ReadLog("bank", job->id, 0, 1 << 20);
  EXPECT_LE(log->text.size(), 1000u);
  EXPECT_TRUE(log->truncated);
  EXPECT_NE(log->text.find("line 0000\n"), std::string::npos);
  EXPECT_EQ(log->text.find("line 0999"), std::string::npos);
  EXPECT_NE(log->text.find("log truncated"), std::string::npos);
  auto piece = service.ReadLog("bank", job->id, 10, 5);
  EXPECT_EQ(piece->text.size(), 5u);
  EXPECT_EQ(piece->next_offset, 15);
  EXPECT_EQ(service.ReadLog("bank", job->id, -1, 5).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace falaj::jobs

namespace falaj::jobs {
namespace {

TEST_F(JobServiceTest, OnlyQueuedAndRunningJobsHoldTheirProject) {
  Gate gate;
  JobService service(*metadata_, Options(1));
  service.RegisterKind("gate", gate.Handler(), false);
  ASSERT_TRUE(service.Start());
  auto count = [&](std::string_view project) {
    int64_t found = -1;
    EXPECT_TRUE(metadata_->RunTransaction(
        storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
          FALAJ_ASSIGN_OR_RETURN(found, JobService::CountInProject(tx, project));
          return Ok();
        }));
    return found;
  };
  auto running = service.Submit("bank", "gate", json::object(), "k");
  auto queued = service.Submit("bank", "gate", json::object(), "k");
  EXPECT_EQ(count("bank"), 2);
  EXPECT_EQ(count("other"), 0);
  gate.open = true;
  ASSERT_TRUE(Finished(service, *running, JobStatus::kSucceeded));
  ASSERT_TRUE(Finished(service, *queued, JobStatus::kSucceeded));
  EXPECT_EQ(count("bank"), 0);
}

}  // namespace
}  // namespace falaj::jobs
