#include "cli/job_commands.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/model_files.h"
#include "cli/progress_bar.h"
#include "cli/url_encoding.h"
#include "data/yaml_json.h"

namespace falaj::cli {
namespace {

const Columns kJobColumns = {"id",      "kind",    "status",     "progress",
                             "message", "attempt", "created_at", "error"};
constexpr auto kPollInterval = std::chrono::milliseconds(500);

struct JobArgs {
  std::string project;
  std::string id;
  std::string status;
  std::string kind;
  std::string spec_file;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::vector<std::string> files;
  int64_t timeout_seconds = 0;
  int64_t memory_mb = 0;
  bool wait = false;
  bool follow = false;
  std::string progress = "auto";
};

std::string JobPath(const JobArgs& args, std::vector<std::string_view> rest = {}) {
  std::vector<std::string_view> segments = {"projects", args.project, "jobs"};
  if (!args.id.empty()) segments.push_back(args.id);
  segments.insert(segments.end(), rest.begin(), rest.end());
  return ApiPath(segments);
}

bool IsFinished(std::string_view status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

// The finished job: its summary, then its result (a table of the result's members, or the
// whole job in JSON/YAML). 0 when it succeeded, 1 otherwise.
int PrintOutcome(const ClientContext& context, const nlohmann::json& job) {
  int code = job.value("status", "") == "succeeded" ? 0 : 1;
  if (context.format != OutputFormat::kTable) {
    PrintItem(context, job, kJobColumns);
    return code;
  }
  std::fputs(
      RenderObject(job, {"id", "kind", "status", "attempt", "error"}, context.format).c_str(),
      stdout);
  const nlohmann::json& result = job.contains("result") ? job["result"] : nlohmann::json();
  if (result.is_object() && !result.empty()) {
    std::vector<std::string> fields;
    for (const auto& [name, unused] : result.items()) fields.push_back(name);
    std::fputs("\nresult\n", stdout);
    std::fputs(RenderObject(result, fields, context.format).c_str(), stdout);
  }
  return code;
}

// Polls the job until it finishes, drawing its progress.
int WaitFor(const ClientContext& context, JobArgs args, const std::string& id) {
  args.id = id;
  ProgressMode mode = ProgressMode::kAuto;
  ParseProgressMode(args.progress, mode);
  ProgressBar bar(args.kind.empty() ? "job" : args.kind, mode);
  while (true) {
    auto job = Call(context, "GET", JobPath(args));
    if (!job) return Report(job.error());
    bar.UpdateFraction(job->value("progress", 0.0), job->value("message", ""));
    if (IsFinished(job->value("status", ""))) {
      bar.Finish();
      return PrintOutcome(context, *job);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

int Submit(const ClientContext& context, JobArgs args, const nlohmann::json& spec) {
  nlohmann::json body = {{"kind", args.kind}, {"spec", spec}};
  auto job = Call(context, "POST", JobPath(args), body.dump());
  if (!job) return Report(job.error());
  if (!args.wait) return PrintItem(context, *job, kJobColumns);
  std::fprintf(stderr, "falaj: job %s queued\n", job->value("id", "").c_str());
  return WaitFor(context, std::move(args), job->value("id", ""));
}

int SubmitSpecFile(const ClientContext& context, const JobArgs& args) {
  auto text = ReadLocalFile(args.spec_file);
  if (!text) return Report(text.error());
  auto spec = data::YamlToJson(*text);
  if (!spec) return UsageError(args.spec_file + ": " + spec.error().message);
  if (!spec->is_object()) return UsageError(args.spec_file + ": a job spec is a mapping");
  return Submit(context, args, *spec);
}

int RunCommand(const ClientContext& context, const JobArgs& args) {
  auto env = ParseKeyValues("--env", args.env);
  if (!env) return UsageError(env.error().message);
  nlohmann::json spec = {{"command", args.argv}, {"env", *env}};
  nlohmann::json files = nlohmann::json::object();
  for (const auto& file : args.files) {
    auto content = ReadLocalFile(file);
    if (!content) return Report(content.error());
    files[std::filesystem::path(file).filename().string()] = *content;
  }
  if (!files.empty()) spec["files"] = files;
  nlohmann::json limits = nlohmann::json::object();
  if (args.timeout_seconds > 0) limits["timeout_seconds"] = args.timeout_seconds;
  if (args.memory_mb > 0) limits["memory_mb"] = args.memory_mb;
  if (!limits.empty()) spec["limits"] = limits;
  JobArgs command = args;
  command.kind = "command";
  return Submit(context, command, spec);
}

// Prints the log from the start; with --follow keeps reading until the job has finished.
int Logs(const ClientContext& context, const JobArgs& args) {
  int64_t offset = 0;
  while (true) {
    auto chunk = Call(context, "GET",
                      JobPath(args, {"logs"}) + QueryString({{"offset", std::to_string(offset)}}));
    if (!chunk) return Report(chunk.error());
    std::string text = chunk->value("text", "");
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    int64_t next = chunk->value("next_offset", offset);
    bool done = IsFinished(chunk->value("status", ""));
    // Status is read before the text: finished and nothing new means the log is complete.
    if (!args.follow || (done && next == offset)) return 0;
    if (next == offset) std::this_thread::sleep_for(kPollInterval);
    offset = next;
  }
}

void AddSpecCommand(CLI::App& app, CommandTable& table, JobArgs& args, const char* kind,
                    const char* help) {
  CLI::App* command = app.add_subcommand(kind, help);
  command->add_option("project", args.project, "Project")->required();
  command->add_option("-f,--file", args.spec_file, "Spec (YAML or JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_flag("--wait", args.wait, "Follow the job and print its result");
  command->add_option("--progress", args.progress, "Progress bar: auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  table.AddClient(command, [&args, kind](const ClientContext& context) {
    JobArgs submitted = args;
    submitted.kind = kind;
    return SubmitSpecFile(context, submitted);
  });
}

}  // namespace

void AddJobCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<JobArgs>();
  CLI::App* jobs = app.add_subcommand("jobs", "Submit, follow and cancel background jobs");
  jobs->require_subcommand(1);
  CLI::App* list = jobs->add_subcommand("list", "List a project's jobs, newest first");
  list->add_option("project", args.project, "Project")->required();
  list->add_option("--status", args.status, "queued, running, succeeded, failed or cancelled");
  list->add_option("--kind", args.kind, "Only jobs of this kind");
  table.AddClient(list, [&args](const ClientContext& context) {
    std::optional<std::string> status, kind;
    if (!args.status.empty()) status = args.status;
    if (!args.kind.empty()) kind = args.kind;
    return CallAndPrintList(context,
                            JobPath(args) + QueryString({{"status", status}, {"kind", kind}}),
                            "jobs", kJobColumns);
  });
  CLI::App* get = jobs->add_subcommand("get", "Show one job");
  get->add_option("project", args.project, "Project")->required();
  get->add_option("id", args.id, "Job id")->required();
  table.AddClient(get, [&args](const ClientContext& context) {
    return CallAndPrintItem(context, "GET", JobPath(args), "", kJobColumns);
  });
  CLI::App* logs = jobs->add_subcommand("logs", "Print a job's log");
  logs->add_option("project", args.project, "Project")->required();
  logs->add_option("id", args.id, "Job id")->required();
  logs->add_flag("-f,--follow", args.follow, "Keep printing until the job finishes");
  table.AddClient(logs, [&args](const ClientContext& context) { return Logs(context, args); });
  CLI::App* cancel = jobs->add_subcommand("cancel", "Cancel a queued or running job");
  cancel->add_option("project", args.project, "Project")->required();
  cancel->add_option("id", args.id, "Job id")->required();
  table.AddClient(cancel, [&args](const ClientContext& context) {
    return CallAndPrintItem(context, "POST", JobPath(args, {"cancel"}), "", kJobColumns);
  });
  CLI::App* run = jobs->add_subcommand(
      "run", "Run a program on the server as a command job: falaj jobs run PROJECT -- argv...");
  run->add_option("project", args.project, "Project")->required();
  run->add_option("argv", args.argv, "The program and its arguments (after --)")->required();
  run->add_option("--env", args.env, "Environment variable NAME=value (repeatable)");
  run->add_option("--file", args.files, "Local file copied into the job's work directory")
      ->check(CLI::ExistingFile);
  run->add_option("--timeout", args.timeout_seconds, "Seconds before the command is stopped");
  run->add_option("--memory-mb", args.memory_mb, "Address-space limit of the command");
  run->add_flag("--wait", args.wait, "Follow the job and print its result");
  run->add_option("--progress", args.progress, "Progress bar: auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  table.AddClient(run, [&args](const ClientContext& context) { return RunCommand(context, args); });
  AddSpecCommand(app, table, args, "train", "Submit a training job from a spec file");
  AddSpecCommand(app, table, args, "tune", "Submit a tuning job from a spec file");
}

}  // namespace falaj::cli
