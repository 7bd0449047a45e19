#include "api/job_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "jobs/command_job.h"

namespace falaj::api {
namespace {

const std::string kJobs = "/api/v1/projects/{project}/jobs";
constexpr int64_t kMaxLogRead = 1 << 20;
constexpr int64_t kMaxPageSize = 500;

nlohmann::json JobJson(const jobs::Job& job, bool with_spec) {
  nlohmann::json body = {
      {"id", job.id},
      {"project", job.project},
      {"kind", job.kind},
      {"status", jobs::JobStatusName(job.status)},
      {"progress", job.progress},
      {"message", job.message},
      {"result", job.result},
      {"error", job.error.empty() ? nlohmann::json() : nlohmann::json(job.error)},
      {"created_by", job.created_by},
      {"created_at", TimeOrNull(job.created_at_ms)},
      {"started_at", TimeOrNull(job.started_at_ms)},
      {"finished_at", TimeOrNull(job.finished_at_ms)},
      {"attempt", job.attempt}};
  if (with_spec) body["spec"] = job.spec;
  return body;
}

// A non-negative integer query parameter, or `fallback` when absent.
Result<int64_t> IntParam(const HttpRequest& request, std::string_view name, int64_t fallback) {
  FALAJ_ASSIGN_OR_RETURN(auto text, request.QueryParam(name));
  if (!text) return fallback;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "{} must be a non-negative integer, got '{}'",
                     name, text->substr(0, 32));
  }
  return value;
}

Result<HttpResponse> Submit(jobs::JobService& jobs, security::Authorizer& authorizer,
                            const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"kind", "spec"}));
  FALAJ_ASSIGN_OR_RETURN(auto kind, json::RequiredString(body, "kind"));
  const std::string& project = request.PathParam("project");
  if (kind == jobs::kCommandKind) {
    FALAJ_ASSIGN_OR_RETURN(bool allowed,
                           authorizer.IsAllowed(*request.principal, "jobs.command", project));
    if (!allowed) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "command jobs run programs on the server: submitting one needs permission "
                       "jobs.command (held by admins)");
    }
  }
  auto spec = body.find("spec");
  FALAJ_ASSIGN_OR_RETURN(
      auto job,
      jobs.Submit(project, kind, spec == body.end() ? nlohmann::json::object() : std::move(*spec),
                  request.principal->subject));
  return HttpResponse::Json(201, JobJson(job, true));
}

Result<HttpResponse> List(jobs::JobService& jobs, const HttpRequest& request) {
  jobs::JobFilter filter;
  FALAJ_ASSIGN_OR_RETURN(auto status, request.QueryParam("status"));
  if (status) {
    FALAJ_ASSIGN_OR_RETURN(filter.status, jobs::ParseJobStatus(*status));
  }
  FALAJ_ASSIGN_OR_RETURN(auto kind, request.QueryParam("kind"));
  filter.kind = kind.value_or("");
  FALAJ_ASSIGN_OR_RETURN(int64_t limit, IntParam(request, "limit", 50));
  if (limit < 1 || limit > kMaxPageSize) {
    return MakeError(ErrorCode::kInvalidArgument, "limit must be 1 to {}", kMaxPageSize);
  }
  FALAJ_ASSIGN_OR_RETURN(int64_t offset, IntParam(request, "page_token", 0));
  filter.limit = static_cast<size_t>(limit);
  filter.offset = static_cast<size_t>(offset);
  FALAJ_ASSIGN_OR_RETURN(auto found, jobs.List(request.PathParam("project"), filter));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& job : found) items.push_back(JobJson(job, false));
  nlohmann::json next;
  if (static_cast<int64_t>(found.size()) == limit) next = std::to_string(offset + limit);
  return HttpResponse::Json(200, {{"jobs", items}, {"next_page_token", next}});
}

Result<HttpResponse> Get(jobs::JobService& jobs, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto job,
                         jobs.Get(request.PathParam("project"), request.PathParam("job")));
  return HttpResponse::Json(200, JobJson(job, true));
}

Result<HttpResponse> Cancel(jobs::JobService& jobs, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto job,
                         jobs.Cancel(request.PathParam("project"), request.PathParam("job")));
  return HttpResponse::Json(200, JobJson(job, false));
}

Result<HttpResponse> Logs(jobs::JobService& jobs, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(int64_t offset, IntParam(request, "offset", 0));
  const std::string& project = request.PathParam("project");
  // The status is read first: a client that sees a finished status after this read has the
  // whole log once it reads up to the returned offset.
  FALAJ_ASSIGN_OR_RETURN(auto job, jobs.Get(project, request.PathParam("job")));
  FALAJ_ASSIGN_OR_RETURN(auto chunk, jobs.ReadLog(project, job.id, offset, kMaxLogRead));
  return HttpResponse::Json(200, {{"text", chunk.text},
                                  {"offset", offset},
                                  {"next_offset", chunk.next_offset},
                                  {"truncated", chunk.truncated},
                                  {"status", jobs::JobStatusName(job.status)}});
}

Result<HttpResponse> Progress(jobs::JobService& jobs, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"fraction", "message"}));
  auto fraction = body.find("fraction");
  if (fraction == body.end() || !fraction->is_number() || *fraction < 0 || *fraction > 1) {
    return MakeError(ErrorCode::kInvalidArgument, "fraction must be a number from 0 to 1");
  }
  FALAJ_ASSIGN_OR_RETURN(auto message, json::OptionalString(body, "message"));
  FALAJ_RETURN_IF_ERROR(jobs.ReportProgressAs(request.PathParam("project"),
                                              request.PathParam("job"), request.principal->subject,
                                              fraction->get<double>(), message.value_or("")));
  return NoContent();
}

}  // namespace

Status AddJobRoutes(Router& router, jobs::JobService& jobs, security::Authorizer& authorizer) {
  auto bind = [&jobs](auto handler) {
    return [&jobs, handler](HttpRequest& request) { return handler(jobs, request); };
  };
  FALAJ_RETURN_IF_ERROR(router.Add(WorkerRoute(
      "POST", kJobs, "jobs.write",
      [&jobs, &authorizer](HttpRequest& request) { return Submit(jobs, authorizer, request); })));
  FALAJ_RETURN_IF_ERROR(router.Add(WorkerRoute("GET", kJobs, "jobs.read", bind(List))));
  FALAJ_RETURN_IF_ERROR(router.Add(WorkerRoute("GET", kJobs + "/{job}", "jobs.read", bind(Get))));
  FALAJ_RETURN_IF_ERROR(
      router.Add(WorkerRoute("POST", kJobs + "/{job}/cancel", "jobs.write", bind(Cancel))));
  FALAJ_RETURN_IF_ERROR(
      router.Add(WorkerRoute("GET", kJobs + "/{job}/logs", "jobs.read", bind(Logs))));
  Route progress = WorkerRoute("POST", kJobs + "/{job}/progress", "jobs.write", bind(Progress));
  // A running command reports often; the submission and the outcome are what the audit keeps.
  progress.audit_exempt = true;
  return router.Add(std::move(progress));
}

}  // namespace falaj::api
