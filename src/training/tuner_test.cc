#include "training/tuner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <regex>
#include <stdexcept>

#include "training/asha_reference.h"
#include "training/random_search.h"
#include "training/tuning_test_support.h"

namespace falaj::training {
namespace {

SearchSpace Space() { return *SearchSpace::Parse(QualitySpace()); }

StudyOptions Options(Algorithm algorithm, int max_trials, int parallelism, int max_resource) {
  StudyOptions options;
  options.algorithm = algorithm;
  options.max_trials = max_trials;
  options.parallelism = parallelism;
  options.seed = 11;
  options.asha = {1, 3, max_resource};
  options.metric = "auc";
  return options;
}

double Q(const TrialRecord& trial) { return trial.params.at("q").get<double>(); }

// Records the start and end of every trial, as tracking would.
class CountingObserver : public TrialObserver {
 public:
  void OnTrialStart(const TrialRecord& trial) override {
    std::lock_guard lock(mu_);
    started.push_back(trial.number);
  }
  void OnTrialEnd(const TrialRecord& trial) override {
    std::lock_guard lock(mu_);
    ended.push_back(trial.number);
  }
  std::mutex mu_;
  std::vector<int> started, ended;
};

TEST(TunerTest, RandomSearchRunsEveryTrialInFullWithReproducibleParams) {
  CurveRunner runner;
  NullTaskContext context;
  auto study = RunStudy(Space(), Options(Algorithm::kRandom, 12, 3, 20), runner, context);
  ASSERT_TRUE(study) << study.error().message;
  ASSERT_EQ(study->trials.size(), 12u);
  RandomSampler sampler(Space(), 11);
  size_t best = 0;
  for (size_t i = 0; i < study->trials.size(); ++i) {
    const TrialRecord& trial = study->trials[i];
    EXPECT_EQ(trial.number, static_cast<int>(i) + 1);
    EXPECT_EQ(trial.params, sampler.SampleTrial(trial.number));
    EXPECT_EQ(trial.outcome, TrialOutcome::kCompleted);
    EXPECT_EQ(trial.resource, 20);
    EXPECT_EQ(trial.curve.size(), 20u);
    EXPECT_DOUBLE_EQ(*trial.value, CurveRunner::Value(Q(trial), 20));
    if (Q(trial) > Q(study->trials[best])) best = i;
  }
  EXPECT_EQ(study->best, static_cast<int>(best));
  EXPECT_EQ(study->total_resource, 12 * 20);
  EXPECT_EQ(runner.resource.load(), 12 * 20);
  EXPECT_FALSE(study->deadline_reached);
}

TEST(TunerTest, ConcurrentTrialsNeverExceedParallelismAndReachIt) {
  constexpr int kParallelism = 3, kTrials = 10;
  CurveRunner runner;
  std::mutex mu;
  std::condition_variable cv;
  bool timed_out = false;
  // Each trial waits until `parallelism` trials are in flight (or no more can start), so a tuner
  // that ran them one by one would time out here, and one that ran too many would be caught by
  // max_in_flight.
  runner.before_trial = [&](int) -> Status {
    std::unique_lock lock(mu);
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(30), [&] {
          return runner.in_flight.load() >= kParallelism || runner.calls.load() >= kTrials;
        })) {
      timed_out = true;
    }
    return Ok();
  };
  NullTaskContext context;
  auto study =
      RunStudy(Space(), Options(Algorithm::kRandom, kTrials, kParallelism, 5), runner, context);
  ASSERT_TRUE(study);
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(runner.max_in_flight.load(), kParallelism);
  EXPECT_EQ(study->trials.size(), static_cast<size_t>(kTrials));
}

TEST(TunerTest, AshaDecisionsEqualTheReplayOfTheRule) {
  // Noisy curves that cross, so that rankings change between rungs.
  class NoisyRunner : public CurveRunner {
   public:
    Result<double> RunTrial(const nlohmann::json& params, int max_resource,
                            const std::function<bool(int, double)>& report, TaskContext&) override {
      const double q = params.at("q").get<double>();
      double value = 0;
      for (int step = 1; step <= max_resource; ++step) {
        value = Value(q, step) + 0.2 * std::sin(q * 1000 + step);
        const bool go_on = report(step, value);
        events.push_back({number_of(q), step, value, go_on});
        if (!go_on) break;
      }
      return value;
    }
    std::function<int(double)> number_of;
    struct Event {
      int trial, step;
      double value;
      bool go_on;
    };
    std::vector<Event> events;
  } runner;
  StudyOptions options = Options(Algorithm::kAsha, 40, 1, 27);
  RandomSampler sampler(Space(), options.seed);
  runner.number_of = [&](double q) {
    for (int n = 1; n <= 40; ++n) {
      if (sampler.SampleTrial(n).at("q").get<double>() == q) return n;
    }
    return 0;
  };
  NullTaskContext context;
  auto study = RunStudy(Space(), options, runner, context);
  ASSERT_TRUE(study);
  AshaReplay replay(options.asha, true);
  int stopped = 0;
  for (const auto& event : runner.events) {
    const bool expected = !replay.Stop(event.trial, event.step, event.value) &&
                          event.step < options.asha.max_resource;
    ASSERT_EQ(event.go_on, expected) << "trial " << event.trial << " step " << event.step;
    stopped += !event.go_on && event.step < options.asha.max_resource;
  }
  EXPECT_GT(stopped, 10);
  for (const auto& trial : study->trials) {
    EXPECT_EQ(trial.outcome == TrialOutcome::kStoppedEarly, trial.resource < 27);
    if (trial.outcome == TrialOutcome::kStoppedEarly) {
      EXPECT_NE(trial.reason.find("stopped by ASHA at rung"), std::string::npos);
    }
  }
}

TEST(TunerTest, AshaStopsBadTrialsAndSpendsLessThanRandomSearchForTheSameBest) {
  constexpr int kTrials = 30, kMax = 81;
  NullTaskContext context;
  CurveRunner random_runner, asha_runner;
  auto random =
      RunStudy(Space(), Options(Algorithm::kRandom, kTrials, 1, kMax), random_runner, context);
  auto asha = RunStudy(Space(), Options(Algorithm::kAsha, kTrials, 1, kMax), asha_runner, context);
  ASSERT_TRUE(random && asha);
  EXPECT_EQ(random->total_resource, kTrials * kMax);
  EXPECT_EQ(asha_runner.resource.load(), asha->total_resource);
  // Successive halving with η = 3 spends a fraction of the full budget.
  EXPECT_LT(asha->total_resource * 2, random->total_resource);
  // Curves never cross, so the best configuration leads at every rung and is never stopped.
  ASSERT_TRUE(random->best && asha->best);
  EXPECT_EQ(asha->best, random->best);
  EXPECT_DOUBLE_EQ(*asha->trials[*asha->best].value, *random->trials[*random->best].value);
  // The worst configuration is stopped at the first rung (unless it was the very first trial).
  auto worst = std::min_element(asha->trials.begin(), asha->trials.end(),
                                [](const auto& a, const auto& b) { return Q(a) < Q(b); });
  if (worst->number != 1) {
    EXPECT_EQ(worst->outcome, TrialOutcome::kStoppedEarly);
    EXPECT_EQ(worst->resource, 1);
  }
  // Every stopped trial stopped exactly at a rung.
  const std::vector<int> rungs = AshaRungs({1, 3, kMax});
  int stopped = 0;
  for (const auto& trial : asha->trials) {
    if (trial.outcome != TrialOutcome::kStoppedEarly) continue;
    ++stopped;
    EXPECT_TRUE(std::find(rungs.begin(), rungs.end(), trial.resource) != rungs.end());
  }
  EXPECT_GT(stopped, kTrials / 2);
}

TEST(TunerTest, AshaWithParallelTrialsStillFindsTheBest) {
  CurveRunner runner;
  NullTaskContext context;
  auto study = RunStudy(Space(), Options(Algorithm::kAsha, 24, 4, 27), runner, context);
  ASSERT_TRUE(study);
  auto best = std::max_element(study->trials.begin(), study->trials.end(),
                               [](const auto& a, const auto& b) { return Q(a) < Q(b); });
  EXPECT_EQ(best->outcome, TrialOutcome::kCompleted);
  EXPECT_EQ(study->best, best->number - 1);
  EXPECT_LE(runner.max_in_flight.load(), 4);
}

TEST(TunerTest, TheTrialBudgetEndsTheStudy) {
  CurveRunner runner;
  NullTaskContext context;
  auto study = RunStudy(Space(), Options(Algorithm::kRandom, 5, 2, 3), runner, context);
  ASSERT_TRUE(study);
  EXPECT_EQ(study->trials.size(), 5u);
  EXPECT_EQ(runner.calls.load(), 5);
}

TEST(TunerTest, TheTimeBudgetStopsRunningTrialsAndStartsNoMore) {
  FakeClock clock;
  CurveRunner runner;
  runner.clock = &clock;  // one second per step
  StudyOptions options = Options(Algorithm::kRandom, 100, 1, 4);
  options.max_seconds = 10;
  options.clock = &clock;
  NullTaskContext context;
  auto study = RunStudy(Space(), options, runner, context);
  ASSERT_TRUE(study);
  // Trials 1 and 2 take 4 s each; trial 3 reaches the 10 s deadline at its second step.
  ASSERT_EQ(study->trials.size(), 3u);
  EXPECT_TRUE(study->deadline_reached);
  EXPECT_EQ(study->trials[0].outcome, TrialOutcome::kCompleted);
  EXPECT_EQ(study->trials[1].outcome, TrialOutcome::kCompleted);
  EXPECT_EQ(study->trials[2].outcome, TrialOutcome::kDeadline);
  EXPECT_EQ(study->trials[2].resource, 2);
  EXPECT_DOUBLE_EQ(*study->trials[2].value, CurveRunner::Value(Q(study->trials[2]), 2));
  // The best is chosen among completed trials only.
  EXPECT_EQ(study->best, Q(study->trials[0]) > Q(study->trials[1]) ? 0 : 1);
  EXPECT_DOUBLE_EQ(study->elapsed_seconds, 10.0);
}

TEST(TunerTest, CancellationStopsRunningTrialsAndReturnsCancelled) {
  CurveRunner runner;
  runner.on_step = [](int call, int step, TaskContext& context) {
    if (call == 3 && step == 2) static_cast<NullTaskContext&>(context).Cancel();
  };
  CountingObserver observer;
  NullTaskContext context;
  auto study = RunStudy(Space(), Options(Algorithm::kRandom, 10, 1, 5), runner, context, &observer);
  ASSERT_FALSE(study);
  EXPECT_EQ(study.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(runner.calls.load(), 3);
  EXPECT_EQ(runner.resource.load(), 5 + 5 + 2);
  EXPECT_EQ(observer.started, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(observer.ended, (std::vector<int>{1, 2, 3}));
}

TEST(TunerTest, FailingTrialsAreRecordedAndTheStudyGoesOn) {
  CurveRunner runner;
  runner.before_trial = [](int call) -> Status {
    if (call == 2) return MakeError(ErrorCode::kInvalidArgument, "eta out of range");
    if (call == 4) throw std::runtime_error("boom");
    return Ok();
  };
  RecordingContext context;
  auto study = RunStudy(Space(), Options(Algorithm::kRandom, 6, 1, 3), runner, context);
  ASSERT_TRUE(study) << study.error().message;
  ASSERT_EQ(study->trials.size(), 6u);
  EXPECT_EQ(study->trials[1].outcome, TrialOutcome::kFailed);
  EXPECT_EQ(study->trials[1].reason, "failed: eta out of range");
  EXPECT_FALSE(study->trials[1].value.has_value());
  EXPECT_EQ(study->trials[3].outcome, TrialOutcome::kFailed);
  EXPECT_NE(study->trials[3].reason.find("boom"), std::string::npos);
  EXPECT_EQ(study->trials[5].outcome, TrialOutcome::kCompleted);
  ASSERT_TRUE(study->best);
  EXPECT_NE(*study->best, 1);
  EXPECT_NE(*study->best, 3);
}

TEST(TunerTest, ProgressSaysWhereTheStudyIs) {
  CurveRunner runner;
  RecordingContext context;
  auto study = RunStudy(Space(), Options(Algorithm::kRandom, 4, 1, 2), runner, context);
  ASSERT_TRUE(study);
  const TrialRecord& best = study->trials[static_cast<size_t>(*study->best)];
  EXPECT_EQ(context.messages.back(), fmt::format("trial 4/4 running 0, best auc {:.4f} (trial {})",
                                                 *best.value, best.number));
  EXPECT_EQ(context.messages.front(), "trial 1/4 running 1");
  EXPECT_DOUBLE_EQ(context.fractions.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(context.fractions.begin(), context.fractions.end()));
  ASSERT_EQ(context.lines.size(), 4u);
  EXPECT_TRUE(std::regex_search(context.lines[0], std::regex("^trial 1 completed: auc 0\\.")))
      << context.lines[0];
}

}  // namespace
}  // namespace falaj::training
