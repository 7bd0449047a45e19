// The "command" job kind: a custom training job that runs a program (argv, no shell) on the
// server in a fresh working directory, with resource limits, its output in the job log, and an
// environment that points it at this Falaj server: MLFLOW_TRACKING_URI / MLFLOW_TRACKING_TOKEN
// for the MLflow client, FALAJ_URL / FALAJ_PROJECT / FALAJ_JOB_ID / FALAJ_API_KEY for the rest.
// The key is minted for the job alone: scoped to its project with role developer, expiring
// after the job's timeout, revoked when the job ends; it may report the job's progress.
//
// Running arbitrary programs on the server is dangerous, so the kind refuses every spec unless
// the operator enabled it (jobs.commands_enabled); the API also requires jobs.command.
//
// Thread-safe: each job runs independently; the shared services are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "jobs/job_service.h"
#include "security/api_keys.h"
#include "security/role_bindings.h"

namespace falaj::jobs {

inline constexpr std::string_view kCommandKind = "command";

struct CommandJobOptions {
  bool enabled = false;
  std::string work_root;  // each job runs in work_root/<job id>, removed when it ends
  // This server's base URL ("http://127.0.0.1:8080"), known once it listens.
  std::function<std::string()> server_url;
  std::chrono::milliseconds kill_grace{5000};
};

class CommandJobs {
 public:
  // The services must outlive this.
  CommandJobs(security::ApiKeyService& keys, security::RoleBindingService& bindings,
              CommandJobOptions options);

  // Registers kind "command" (not resumable: a program cut off by a restart starts over only
  // if someone submits it again).
  void Register(JobService& jobs);

  Status Validate(const nlohmann::json& spec) const;
  Result<nlohmann::json> Run(const Job& job, JobContext& context);
  // After a crash: revokes the key a job was given (its name is "job-<id>") and its binding.
  void RevokeLeftoverKey(const Job& job);

 private:
  security::ApiKeyService& keys_;
  security::RoleBindingService& bindings_;
  const CommandJobOptions options_;
};

}  // namespace falaj::jobs
