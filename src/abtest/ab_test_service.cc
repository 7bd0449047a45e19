#include "abtest/ab_test_service.h"

#include <algorithm>

#include "common/logging.h"

namespace falaj::abtest {
namespace {

constexpr size_t kMaxReason = 1024;
constexpr std::string_view kPolicyPrincipal = "policy:auto";

std::string WatchKey(std::string_view project, std::string_view endpoint) {
  std::string key(project);
  key += '\n';
  key += endpoint;
  return key;
}

// A unit's identity for counting: its key, else its request (one request, one unit).
std::string UnitOf(std::string_view unit_key, std::string_view request_id) {
  if (!unit_key.empty()) return std::string(unit_key);
  return "request:" + std::string(request_id);
}

Result<TestStatus> StatusAfter(std::string_view action) {
  if (action == "promote") return TestStatus::kPromoted;
  if (action == "rollback") return TestStatus::kRolledBack;
  if (action == "stop") return TestStatus::kStopped;
  return MakeError(ErrorCode::kInvalidArgument,
                   "'action' must be one of promote, rollback, stop, not '{}'",
                   action.substr(0, 64));
}

std::string ResourceOf(const AbTest& test) {
  return fmt::format("/api/v1/projects/{}/abtests/{}/decision", test.project, test.name);
}

}  // namespace

AbTestService::AbTestService(AbTestStore& store, registry::ModelRegistry* registry,
                             security::AuditLog* audit, AbTestServiceOptions options,
                             const Clock& clock)
    : store_(store), registry_(registry), audit_(audit), options_(options), clock_(clock) {}

AbTestService::~AbTestService() { Stop(); }

Status AbTestService::Start() {
  FALAJ_RETURN_IF_ERROR(RefreshWatched());
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  return Ok();
}

void AbTestService::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    wake_.notify_all();
    thread_.join();
  }
  if (Status flushed = Flush(); !flushed) {
    log::Error("A/B test aggregates not written at shutdown", {{"error", flushed.error().message}});
  }
}

void AbTestService::Run(std::stop_token stop) {
  auto next_evaluation = std::chrono::steady_clock::now() + options_.evaluate_interval;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(stop_mutex_);
      wake_.wait_for(lock, stop, options_.flush_interval, [] { return false; });
    }
    if (stop.stop_requested()) return;
    if (Status flushed = Flush(); !flushed) {
      log::Error("A/B test aggregates not written", {{"error", flushed.error().message}});
    }
    // Other replicas create and decide tests too: learn about them here.
    if (Status refreshed = RefreshWatched(); !refreshed) {
      log::Error("cannot list running A/B tests", {{"error", refreshed.error().message}});
    }
    if (std::chrono::steady_clock::now() >= next_evaluation) {
      EvaluateAll();
      next_evaluation = std::chrono::steady_clock::now() + options_.evaluate_interval;
    }
  }
}

Status AbTestService::RefreshWatched() {
  FALAJ_ASSIGN_OR_RETURN(auto running, store_.ListRunning());
  std::map<std::string, std::vector<Watched>, std::less<>> watched;
  for (const auto& test : running) {
    Watched entry{test.id, test.control, test.treatment, {}};
    for (const auto& metric : test.metrics) entry.metrics.emplace(metric.name, metric.kind);
    watched[WatchKey(test.project, test.endpoint)].push_back(std::move(entry));
  }
  std::unique_lock lock(watched_mutex_);
  watched_ = std::move(watched);
  return Ok();
}

void AbTestService::Enqueue(auto&& add) {
  std::lock_guard lock(pending_mutex_);
  if (pending_.exposures.size() + pending_.outcomes.size() >= options_.max_pending) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  add(pending_);
}

void AbTestService::OnPrediction(const serving::PredictionRecord& record) {
  // A shadow call's answer never reached the user: it is not an exposure.
  if (record.shadow || record.endpoint.empty() || record.arm.empty()) return;
  std::shared_lock lock(watched_mutex_);
  if (watched_.empty()) return;  // the usual case: no test running, nothing to allocate
  auto found = watched_.find(WatchKey(record.project, record.endpoint));
  if (found == watched_.end()) return;
  for (const auto& test : found->second) {
    if (record.arm != test.control && record.arm != test.treatment) continue;
    Enqueue([&](EventBatch& batch) {
      batch.exposures.push_back({test.id, record.arm, UnitOf(record.unit_key, record.request_id)});
    });
  }
}

void AbTestService::OnOutcome(const monitoring::OutcomeRecord& outcome) {
  // Only an outcome joined to its prediction knows its arm.
  if (!outcome.joined || outcome.arm.empty()) return;
  std::shared_lock lock(watched_mutex_);
  if (watched_.empty()) return;
  auto found = watched_.find(WatchKey(outcome.project, outcome.endpoint));
  if (found == watched_.end()) return;
  for (const auto& test : found->second) {
    if (outcome.arm != test.control && outcome.arm != test.treatment) continue;
    auto metric = test.metrics.find(outcome.metric);
    if (metric == test.metrics.end()) continue;
    Enqueue([&](EventBatch& batch) {
      batch.outcomes.push_back({test.id, outcome.arm, outcome.metric, metric->second,
                                UnitOf(outcome.unit_key, outcome.request_id), outcome.value});
    });
  }
}

Status AbTestService::Flush() {
  EventBatch batch;
  {
    std::lock_guard lock(pending_mutex_);
    std::swap(batch, pending_);
  }
  return store_.Apply(batch);
}

Status AbTestService::CheckArms(AbTest& test) {
  if (traffic_ == nullptr) {
    if (endpoint_check_) FALAJ_RETURN_IF_ERROR(endpoint_check_(test.project, test.endpoint));
    return Ok();
  }
  FALAJ_ASSIGN_OR_RETURN(auto arms, traffic_->Arms(test.project, test.endpoint));
  std::string names;
  for (const auto& arm : arms) names += (names.empty() ? "" : ", ") + arm.arm;
  for (auto [arm, weight] : {std::pair{&test.control, &test.control_weight},
                             std::pair{&test.treatment, &test.treatment_weight}}) {
    auto found = std::find_if(arms.begin(), arms.end(), [&](const serving::ArmWeight& candidate) {
      return candidate.arm == *arm;
    });
    if (found == arms.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "endpoint '{}' has no arm '{}' (its arms: {})",
                       test.endpoint, *arm, names);
    }
    if (found->weight <= 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "arm '{}' of endpoint '{}' gets no traffic (weight 0): give it a share "
                       "before testing it",
                       *arm, test.endpoint);
    }
    *weight = static_cast<double>(found->weight);
  }
  return Ok();
}

Result<AbTest> AbTestService::Create(AbTest test) {
  FALAJ_RETURN_IF_ERROR(Validate(test));
  FALAJ_RETURN_IF_ERROR(CheckArms(test));
  FALAJ_ASSIGN_OR_RETURN(auto created, store_.Create(std::move(test)));
  FALAJ_RETURN_IF_ERROR(RefreshWatched());
  return created;
}

Result<AbTest> AbTestService::Get(std::string_view project, std::string_view name) {
  return store_.Get(project, name);
}

Result<std::vector<AbTest>> AbTestService::List(std::string_view project) {
  return store_.List(project);
}

Status AbTestService::Delete(std::string_view project, std::string_view name) {
  FALAJ_RETURN_IF_ERROR(store_.Delete(project, name));
  return RefreshWatched();
}

Result<ResultsReport> AbTestService::GetResults(std::string_view project, std::string_view name) {
  FALAJ_RETURN_IF_ERROR(Flush());
  FALAJ_ASSIGN_OR_RETURN(AbTest test, store_.Get(project, name));
  FALAJ_ASSIGN_OR_RETURN(Tally tally, store_.LoadTally(test));
  ResultsReport report{test, ComputeResults(test, tally), std::nullopt, ""};
  const std::string& action = report.results.recommendation.action;
  if (test.policy != PolicyMode::kAuto || test.status != TestStatus::kRunning ||
      action == "continue") {
    return report;
  }
  if (action != "stop" && traffic_ == nullptr) {
    report.policy_note = "the automatic policy would " + action +
                         ", but no traffic control is wired into this server";
    return report;
  }
  auto decided = Apply(test, action, report.results.recommendation.reason, kPolicyPrincipal, true,
                       ResultsToJson(test, report.results));
  if (decided) {
    report.automatic_decision = *decided;
    FALAJ_ASSIGN_OR_RETURN(report.test, store_.Get(project, name));
  } else if (decided.error().code != ErrorCode::kFailedPrecondition) {
    // FAILED_PRECONDITION: another reader or a person decided first; the test is decided.
    report.policy_note =
        "the automatic policy could not " + action + ": " + decided.error().message;
  }
  return report;
}

void AbTestService::EvaluateAll() {
  auto running = store_.ListRunning();
  if (!running) {
    log::Error("cannot list running A/B tests", {{"error", running.error().message}});
    return;
  }
  for (const auto& test : *running) {
    if (test.policy != PolicyMode::kAuto) continue;
    auto report = GetResults(test.project, test.name);
    if (!report) {
      log::Warn(
          "A/B test policy not evaluated",
          {{"project", test.project}, {"test", test.name}, {"error", report.error().message}});
    }
  }
}

Result<Decision> AbTestService::Decide(std::string_view project, std::string_view name,
                                       std::string_view action, std::string_view reason,
                                       std::string_view principal) {
  FALAJ_RETURN_IF_ERROR(StatusAfter(action));
  if (reason.size() > kMaxReason) {
    return MakeError(ErrorCode::kInvalidArgument, "'reason' is longer than {} bytes", kMaxReason);
  }
  FALAJ_RETURN_IF_ERROR(Flush());
  FALAJ_ASSIGN_OR_RETURN(AbTest test, store_.Get(project, name));
  FALAJ_ASSIGN_OR_RETURN(Tally tally, store_.LoadTally(test));
  return Apply(test, action, reason, principal, false,
               ResultsToJson(test, ComputeResults(test, tally)));
}

Result<Decision> AbTestService::Apply(const AbTest& test, std::string_view action,
                                      std::string_view reason, std::string_view principal,
                                      bool automatic, const nlohmann::json& statistics) {
  FALAJ_ASSIGN_OR_RETURN(TestStatus to, StatusAfter(action));
  if (test.status != TestStatus::kRunning) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "A/B test '{}' is {}, not running: it takes no more decisions", test.name,
                     TestStatusName(test.status));
  }
  if (to != TestStatus::kStopped && traffic_ == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     "no traffic control is wired into this server, so '{}' cannot move the "
                     "endpoint's traffic; 'stop' still works",
                     action);
  }
  const bool promote = to == TestStatus::kPromoted;
  std::optional<ArmModel> treatment_model;
  if (promote && !test.promote_alias.empty()) {
    if (!arm_models_ || registry_ == nullptr) {
      return MakeError(ErrorCode::kUnavailable,
                       "this server cannot tell which model version arm '{}' serves, so it "
                       "cannot move alias '{}'",
                       test.treatment, test.promote_alias);
    }
    FALAJ_ASSIGN_OR_RETURN(treatment_model,
                           arm_models_(test.project, test.endpoint, test.treatment));
  }
  Decision decision{.action = std::string(action),
                    .reason = std::string(reason),
                    .principal = std::string(principal),
                    .automatic = automatic,
                    .statistics = statistics,
                    .outcome = "applied",
                    .time_ms = ToUnixMillis(clock_.Now())};
  FALAJ_ASSIGN_OR_RETURN(decision.seq, store_.RecordDecision(test, to, decision));
  // The test no longer counts events, whatever happens next.
  if (Status refreshed = RefreshWatched(); !refreshed) {
    log::Warn("cannot list running A/B tests", {{"error", refreshed.error().message}});
  }
  if (to != TestStatus::kStopped) {
    const std::string& arm = promote ? test.treatment : test.control;
    if (Status routed = traffic_->RouteAllTo(test.project, test.endpoint, arm, principal);
        !routed) {
      const std::string why = "traffic not moved: " + routed.error().message;
      FALAJ_RETURN_IF_ERROR(store_.RevertDecision(test, decision.seq, why));
      (void)RefreshWatched();
      return std::unexpected(routed.error());
    }
  }
  if (treatment_model) {
    if (Status moved = registry_->SetAlias(test.project, treatment_model->model, test.promote_alias,
                                           treatment_model->version);
        !moved) {
      decision.outcome =
          "traffic moved; alias '" + test.promote_alias + "' not moved: " + moved.error().message;
    } else {
      decision.outcome =
          fmt::format("applied; alias '{}' of model '{}' now points to version {}",
                      test.promote_alias, treatment_model->model, treatment_model->version);
    }
  } else if (promote && !test.promote_alias.empty()) {
    decision.outcome = "applied; alias '" + test.promote_alias +
                       "' not moved: the treatment arm serves no pinned version";
  }
  if (decision.outcome != "applied") {
    FALAJ_RETURN_IF_ERROR(store_.SetDecisionOutcome(test, decision.seq, decision.outcome));
  }
  if (automatic) AuditAutomatic(test, decision);
  return decision;
}

void AbTestService::AuditAutomatic(const AbTest& test, const Decision& decision) {
  if (audit_ == nullptr) return;
  security::AuditRecord record{ToUnixMillis(clock_.Now()),
                               fmt::format("abtest-{}-{}", test.id, decision.seq),
                               std::string(kPolicyPrincipal),
                               "abtests.write",
                               "POST",
                               ResourceOf(test) + "#" + decision.action,
                               200,
                               "",
                               "allowed"};
  if (Status appended = audit_->Append(record); !appended) {
    log::Error("audit append failed", {{"error", appended.error().message}});
  }
}

Result<std::vector<Decision>> AbTestService::Decisions(std::string_view project,
                                                       std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(AbTest test, store_.Get(project, name));
  return store_.ListDecisions(test);
}

}  // namespace falaj::abtest
