// REST routes for background jobs under /api/v1/projects/{project}/jobs:
//   POST /jobs                 submit {kind, spec}; kind "command" also needs jobs.command
//   GET  /jobs                 list (?status=&kind=&limit=&page_token=), newest first
//   GET  /jobs/{job}           one job with its spec, progress, result and error
//   POST /jobs/{job}/cancel    cancel (a queued job at once, a running one when it stops)
//   GET  /jobs/{job}/logs      log text from ?offset=N and the next offset, for tailing
//   POST /jobs/{job}/progress  {fraction, message} from the job's own key only
// Logic lives in jobs::JobService; this file maps JSON and checks the command permission.
#pragma once

#include "api/router.h"
#include "jobs/job_service.h"
#include "security/authorizer.h"

namespace falaj::api {

Status AddJobRoutes(Router& router, jobs::JobService& jobs, security::Authorizer& authorizer);

}  // namespace falaj::api
