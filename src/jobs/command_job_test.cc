#include "jobs/command_job.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "jobs/command_spec.h"
#include "jobs/job_test_support.h"

namespace falaj::jobs {
namespace {

using nlohmann::json;

TEST(CommandSpecTest, AcceptsAFullSpec) {
  auto spec = ParseCommandSpec({{"command", {"python3", "train.py"}},
                                {"env", {{"EPOCHS", "3"}}},
                                {"files", {{"train.py", "print(1)"}}},
                                {"limits", {{"timeout_seconds", 60}, {"memory_mb", 512}}}});
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->command.size(), 2u);
  EXPECT_EQ(spec->limits.timeout_seconds, 60);
  EXPECT_EQ(spec->limits.memory_mb, 512);
  EXPECT_EQ(spec->limits.max_log_mb, 16);
}

TEST(CommandSpecTest, NamesWhatIsWrong) {
  struct Case {
    json spec;
    std::string_view expected;
  };
  const Case cases[] = {
      {json::object(), "spec.command"},
      {{{"command", json::array()}}, "spec.command"},
      {{{"command", "python3 train.py"}}, "spec.command"},
      {{{"command", {"python3", 3}}}, "spec.command[1]"},
      {{{"command", {""}}}, "spec.command[0]"},
      {{{"command", {"x"}}, {"shell", true}}, "shell"},
      {{{"command", {"x"}}, {"env", {{"FALAJ_API_KEY", "mine"}}}}, "FALAJ_API_KEY"},
      {{{"command", {"x"}}, {"env", {{"MLFLOW_TRACKING_URI", "http://evil"}}}}, "MLFLOW_"},
      {{{"command", {"x"}}, {"env", {{"A B", "1"}}}}, "'A B'"},
      {{{"command", {"x"}}, {"env", {{"A", 1}}}}, "env"},
      {{{"command", {"x"}}, {"files", {{"../escape.py", "x"}}}}, "'../escape.py'"},
      {{{"command", {"x"}}, {"files", {{"a/b.py", "x"}}}}, "'a/b.py'"},
      {{{"command", {"x"}}, {"limits", {{"timeout_seconds", 0}}}}, "limits.timeout_seconds"},
      {{{"command", {"x"}}, {"limits", {{"memory_mb", 1}}}}, "limits.memory_mb"},
      {{{"command", {"x"}}, {"limits", {{"gpus", 1}}}}, "gpus"},
      {{{"command", {"x"}}, {"limits", "none"}}, "limits"},
  };
  for (const auto& test : cases) {
    auto parsed = ParseCommandSpec(test.spec);
    ASSERT_FALSE(parsed) << test.spec.dump();
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(test.expected), std::string::npos)
        << test.spec.dump() << " -> " << parsed.error().message;
  }
}

class CommandJobTest : public JobsTestBase {
 protected:
  void SetUp() override {
    JobsTestBase::SetUp();
    ASSERT_TRUE(metadata_->Migrate(security::ApiKeyService::Migrations()));
    ASSERT_TRUE(metadata_->Migrate(security::RoleBindingService::Migrations()));
    keys_ = std::make_unique<security::ApiKeyService>(*metadata_);
    bindings_ = std::make_unique<security::RoleBindingService>(*metadata_);
  }
  void TearDown() override {
    service_.reset();
    commands_.reset();
    JobsTestBase::TearDown();
  }
  void StartService(bool enabled = true) {
    commands_ = std::make_unique<CommandJobs>(
        *keys_, *bindings_,
        CommandJobOptions{enabled, (directory_ / "work").string(),
                          [] { return std::string("http://127.0.0.1:1"); },
                          std::chrono::milliseconds(500)});
    service_ = std::make_unique<JobService>(*metadata_, Options());
    commands_->Register(*service_);
    ASSERT_TRUE(service_->Start());
  }
  Job Submit(json spec) {
    auto job = service_->Submit("bank", "command", std::move(spec), "key:admin");
    EXPECT_TRUE(job) << job.error().message;
    return job.value_or(Job{});
  }
  std::string Log(const Job& job) { return service_->ReadLog("bank", job.id, 0, 1 << 20)->text; }

  std::unique_ptr<security::ApiKeyService> keys_;
  std::unique_ptr<security::RoleBindingService> bindings_;
  std::unique_ptr<CommandJobs> commands_;
  std::unique_ptr<JobService> service_;
};

TEST_F(CommandJobTest, DisabledCommandsAreRefusedAtSubmission) {
  StartService(false);
  auto job = service_->Submit("bank", "command", {{"command", {"true"}}}, "key:admin");
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(job.error().message.find("jobs.commands_enabled"), std::string::npos);
}

TEST_F(CommandJobTest, RunsWithFilesAndTheFalajEnvironmentThenRevokesItsKey) {
  StartService();
  auto job = Submit({{"command", {"sh", "run.sh"}},
                     {"env", {{"GREETING", "salaam"}}},
                     {"files",
                      {{"run.sh",
                        "echo \"$GREETING $FALAJ_PROJECT $FALAJ_JOB_ID\"\n"
                        "echo \"uri=$MLFLOW_TRACKING_URI\"\n"
                        "echo \"$FALAJ_API_KEY\" > key.txt; cp key.txt \"$FALAJ_URL.none\" "
                        "2>/dev/null; echo to-stderr >&2\n"}}}});
  ASSERT_TRUE(Finished(*service_, job, JobStatus::kSucceeded)) << Log(job);
  std::string log = Log(job);
  EXPECT_NE(log.find("salaam bank " + job.id + "\n"), std::string::npos) << log;
  EXPECT_NE(log.find("uri=http://127.0.0.1:1/mlflow/projects/bank\n"), std::string::npos);
  EXPECT_NE(log.find("to-stderr\n"), std::string::npos);
  EXPECT_EQ(service_->Get("bank", job.id)->result["exit_code"], 0);
  auto keys = keys_->List("bank");
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_NE(keys->front().revoked_at_ms, 0);
  EXPECT_EQ(bindings_->List("bank")->size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(directory_ / "work" / job.id));
}

TEST_F(CommandJobTest, NonZeroExitAndMissingProgramsFail) {
  StartService();
  auto exits = Submit({{"command", {"sh", "-c", "echo bye; exit 3"}}});
  auto missing = Submit({{"command", {"no-such-program-falaj"}}});
  ASSERT_TRUE(Finished(*service_, exits, JobStatus::kFailed));
  EXPECT_EQ(service_->Get("bank", exits.id)->error, "the command exited with code 3");
  EXPECT_NE(Log(exits).find("bye\n"), std::string::npos);
  ASSERT_TRUE(Finished(*service_, missing, JobStatus::kFailed));
  EXPECT_NE(service_->Get("bank", missing.id)->error.find("'no-such-program-falaj'"),
            std::string::npos);
}

bool ProcessGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Waits for the script to write the pids of itself and of a child it started.
std::vector<pid_t> WrittenPids(const std::filesystem::path& file) {
  std::vector<pid_t> pids;
  JobsTestBase::Eventually([&] {
    std::ifstream in(file);
    pids.clear();
    for (pid_t pid; in >> pid;) pids.push_back(pid);
    return pids.size() == 2;
  });
  return pids;
}

TEST_F(CommandJobTest, CancelKillsTheWholeProcessGroup) {
  StartService();
  auto pid_file = directory_ / "pids";
  // The shell ignores SIGTERM, so only the SIGKILL after the grace period ends it.
  auto job = Submit({{"command",
                      {"sh", "-c",
                       "trap '' TERM; sleep 300 & echo $$ $! > " + pid_file.string() +
                           "; while true; do sleep 1; done"}}});
  auto pids = WrittenPids(pid_file);
  ASSERT_EQ(pids.size(), 2u);
  ASSERT_TRUE(service_->Cancel("bank", job.id));
  ASSERT_TRUE(Finished(*service_, job, JobStatus::kCancelled));
  for (pid_t pid : pids) EXPECT_TRUE(JobsTestBase::Eventually([&] { return ProcessGone(pid); }));
}

TEST_F(CommandJobTest, TimeoutStopsTheCommandAndSaysSo) {
  StartService();
  auto job = Submit({{"command", {"sleep", "300"}}, {"limits", {{"timeout_seconds", 1}}}});
  ASSERT_TRUE(Finished(*service_, job, JobStatus::kFailed));
  EXPECT_NE(service_->Get("bank", job.id)->error.find("timeout of 1 seconds"), std::string::npos);
}

TEST_F(CommandJobTest, MemoryLimitMakesABigAllocationFail) {
  StartService();
  // head reads 512 MiB into one buffer... instead, let the shell's own allocation fail:
  // awk builds a 300 MB string under a 100 MB address-space limit.
  auto job = Submit({{"command",
                      {"awk",
                       "BEGIN { s = sprintf(\"%300000000s\", \"\"); print "
                       "length(s) }"}},
                     {"limits", {{"memory_mb", 100}}}});
  ASSERT_TRUE(Finished(*service_, job, JobStatus::kFailed)) << Log(job);
  EXPECT_EQ(Log(job).find("300000000\n"), std::string::npos) << Log(job);
}

}  // namespace
}  // namespace falaj::jobs
