// A temporary directory with a migrated SQLite MetadataStore, for the jobs tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "jobs/job_service.h"
#include "storage/metadata_store.h"

namespace falaj::jobs {

class JobsTestBase : public ::testing::Test {
 public:
  // A job reference for Finished() by id alone.
  static Job Ref(std::string id, std::string project = "bank") {
    Job job;
    job.id = std::move(id);
    job.project = std::move(project);
    return job;
  }

 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_jobs_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 4);
    ASSERT_TRUE(store);
    metadata_ = std::move(*store);
    ASSERT_TRUE(metadata_->Migrate(JobService::Migrations()));
  }
  void TearDown() override {
    metadata_.reset();
    std::filesystem::remove_all(directory_);
  }

  JobServiceOptions Options(int workers = 2) const {
    JobServiceOptions options;
    options.workers = workers;
    options.log_dir = (directory_ / "logs").string();
    return options;
  }

  // Polls `condition` until it holds or a generous deadline passes.
 public:
  static bool Eventually(const std::function<bool()>& condition) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
  }

 protected:
  static bool Finished(JobService& service, const Job& job, JobStatus status) {
    return Eventually([&] {
      auto now = service.Get(job.project, job.id);
      return now && now->status == status;
    });
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> metadata_;
};

}  // namespace falaj::jobs
