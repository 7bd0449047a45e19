#include "api/abtest_routes.h"

#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

const std::string kTests = "/api/v1/projects/{project}/abtests";
const std::string kTest = kTests + "/{abtest}";

nlohmann::json Described(const abtest::AbTest& test) {
  nlohmann::json json = abtest::AbTestToJson(test);
  json["created_at"] = TimeOrNull(test.created_at_ms);
  json["updated_at"] = TimeOrNull(test.updated_at_ms);
  return json;
}

nlohmann::json DecisionJson(const abtest::Decision& decision) {
  return {{"seq", decision.seq},
          {"action", decision.action},
          {"reason", decision.reason},
          {"principal", decision.principal},
          {"automatic", decision.automatic},
          {"outcome", decision.outcome},
          {"time", TimeOrNull(decision.time_ms)},
          {"statistics", decision.statistics}};
}

std::string PrincipalOf(const HttpRequest& request) {
  return request.principal ? request.principal->subject : "";
}

// A route whose body needs the service; UNAVAILABLE when the server runs without one.
Route TestRoute(std::string method, std::string pattern, std::string permission,
                abtest::AbTestService* service,
                std::function<Result<HttpResponse>(abtest::AbTestService&, HttpRequest&)> body) {
  return WorkerRoute(
      std::move(method), std::move(pattern), std::move(permission),
      [service, body = std::move(body)](HttpRequest& request) -> Result<HttpResponse> {
        if (service == nullptr) {
          return MakeError(ErrorCode::kUnavailable, "A/B tests are not enabled on this server");
        }
        return body(*service, request);
      });
}

Result<HttpResponse> Create(abtest::AbTestService& service, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_ASSIGN_OR_RETURN(auto test, abtest::AbTestFromJson(body));
  test.project = request.PathParam("project");
  test.created_by = PrincipalOf(request);
  FALAJ_ASSIGN_OR_RETURN(auto created, service.Create(std::move(test)));
  return HttpResponse::Json(201, Described(created));
}

Result<HttpResponse> Results(abtest::AbTestService& service, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(
      auto report, service.GetResults(request.PathParam("project"), request.PathParam("abtest")));
  nlohmann::json json = abtest::ResultsToJson(report.test, report.results);
  json["policy"] = {
      {"mode", abtest::PolicyModeName(report.test.policy)},
      {"automatic_decision", report.automatic_decision ? DecisionJson(*report.automatic_decision)
                                                       : nlohmann::json(nullptr)}};
  if (!report.policy_note.empty()) json["policy"]["note"] = report.policy_note;
  return HttpResponse::Json(200, json);
}

Result<HttpResponse> Decide(abtest::AbTestService& service, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"action", "reason"}));
  FALAJ_ASSIGN_OR_RETURN(auto action, json::RequiredString(body, "action"));
  FALAJ_ASSIGN_OR_RETURN(auto reason, json::OptionalString(body, "reason"));
  FALAJ_ASSIGN_OR_RETURN(auto decision,
                         service.Decide(request.PathParam("project"), request.PathParam("abtest"),
                                        action, reason.value_or(""), PrincipalOf(request)));
  return HttpResponse::Json(200, DecisionJson(decision));
}

}  // namespace

Status AddAbTestRoutes(Router& router, abtest::AbTestService* service) {
  std::vector<Route> routes;
  routes.push_back(
      TestRoute("GET", kTests, "abtests.read", service,
                [](abtest::AbTestService& tests, HttpRequest& request) -> Result<HttpResponse> {
                  FALAJ_ASSIGN_OR_RETURN(auto listed, tests.List(request.PathParam("project")));
                  nlohmann::json items = nlohmann::json::array();
                  for (const auto& test : listed) items.push_back(Described(test));
                  return HttpResponse::Json(200, {{"abtests", items}});
                }));
  routes.push_back(TestRoute("POST", kTests, "abtests.write", service, Create));
  routes.push_back(TestRoute(
      "GET", kTest, "abtests.read", service,
      [](abtest::AbTestService& tests, HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(
            auto test, tests.Get(request.PathParam("project"), request.PathParam("abtest")));
        return HttpResponse::Json(200, Described(test));
      }));
  routes.push_back(
      TestRoute("DELETE", kTest, "abtests.write", service,
                [](abtest::AbTestService& tests, HttpRequest& request) -> Result<HttpResponse> {
                  FALAJ_RETURN_IF_ERROR(
                      tests.Delete(request.PathParam("project"), request.PathParam("abtest")));
                  return NoContent();
                }));
  routes.push_back(TestRoute("GET", kTest + "/results", "abtests.read", service, Results));
  routes.push_back(TestRoute("POST", kTest + "/decision", "abtests.write", service, Decide));
  routes.push_back(TestRoute(
      "GET", kTest + "/decisions", "abtests.read", service,
      [](abtest::AbTestService& tests, HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto decisions, tests.Decisions(request.PathParam("project"),
                                                               request.PathParam("abtest")));
        nlohmann::json items = nlohmann::json::array();
        for (const auto& decision : decisions) {
          items.push_back(DecisionJson(decision));
        }
        return HttpResponse::Json(200, {{"decisions", items}});
      }));
  for (auto& route : routes) FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  return Ok();
}

}  // namespace falaj::api
