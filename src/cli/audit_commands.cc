#include "cli/audit_commands.h"

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/audit_data_dir.h"
#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kRecordColumns = {"time",     "principal", "action", "method",
                                "resource", "status",    "outcome"};
const Columns kReportFields = {
    "ok",         "entries",       "last_seq", "checkpoints", "last_checkpoint_seq",
    "unanchored", "first_bad_seq", "reason",   "head_hash",   "public_key"};

struct AuditArgs {
  std::string project;  // list: only records about this project
  security::AuditQuery query;
  std::string data_dir;
  std::string public_key;
};

std::optional<std::string> Text(const std::optional<int64_t>& value) {
  return value ? std::optional<std::string>(std::to_string(*value)) : std::nullopt;
}

int ListRecords(const ClientContext& context, const AuditArgs& args) {
  std::vector<std::string_view> segments = {"audit"};
  if (!args.project.empty()) segments = {"projects", args.project, "audit"};
  const security::AuditQuery& query = args.query;
  std::string path = ApiPath(segments) + QueryString({{"from_ms", Text(query.from_ms)},
                                                      {"to_ms", Text(query.to_ms)},
                                                      {"principal", query.principal},
                                                      {"resource_prefix", query.resource_prefix},
                                                      {"limit", Text(query.limit)}});
  return CallAndPrintList(context, path, "records", kRecordColumns);
}

// Prints the report; exit code 0 when the chain verified, 1 (with the reason on stderr) if not.
int PrintReport(OutputFormat format, const nlohmann::json& report) {
  std::fputs(RenderObject(report, kReportFields, format).c_str(), stdout);
  if (report.is_object() && report.value("ok", false)) return 0;
  std::string reason = report.is_object() ? report.value("reason", "") : "";
  std::fprintf(stderr, "falaj: the audit trail does not verify: %s\n",
               reason.empty() ? "no report" : reason.c_str());
  return 1;
}

int Verify(const CommandTable& table, const AuditArgs& args) {
  if (!args.data_dir.empty()) {
    auto report = VerifyAuditDataDir(args.data_dir, args.public_key);
    if (!report) return UsageError(report.error().message);
    return PrintReport(table.format(), *report);
  }
  return table.WithClient([](const ClientContext& context) {
    auto report = Call(context, "GET", ApiPath({"audit", "verify"}));
    if (!report) return Report(report.error());
    return PrintReport(context.format, *report);
  });
}

int Export(const AuditArgs& args) {
  Status exported = ExportAuditDataDir(args.data_dir, args.query, std::cout);
  std::cout.flush();
  if (!exported) return UsageError(exported.error().message);
  return 0;
}

void AddFilterFlags(CLI::App* command, AuditArgs& args) {
  command->add_option("--principal", args.query.principal, "Only this principal, e.g. key:<id>");
  command->add_option("--resource-prefix", args.query.resource_prefix,
                      "Only resources (request paths) starting with this");
  command->add_option("--from-ms", args.query.from_ms, "Only records at or after this Unix ms");
  command->add_option("--to-ms", args.query.to_ms, "Only records before this Unix ms");
}

CLI::Option* AddDataDirFlag(CLI::App* command, AuditArgs& args) {
  return command->add_option("--data-dir", args.data_dir,
                             "A server's data directory (holding falaj.db), read directly");
}

void AddVerifyCommand(CLI::App* audit, CommandTable& table, AuditArgs& args) {
  CLI::App* verify =
      audit->add_subcommand("verify", "Check the audit hash chain and its signed checkpoints");
  verify->footer(
      "Asks the server, or with --data-dir reads the database itself (the server may be\n"
      "stopped). Exit code 0 when the trail verifies, 1 when it was tampered with (the reason\n"
      "names the first bad entry), 2 when the check cannot run. Offline, the public key comes\n"
      "from <data-dir>/audit_signing_key.pem unless --public-key gives one recorded elsewhere\n"
      "(the `public_key` an earlier verify printed), so that a key file replaced together\n"
      "with a re-signed trail is noticed.");
  table.AddClientFlags(verify);
  CLI::Option* data_dir = AddDataDirFlag(verify, args);
  verify
      ->add_option("--public-key", args.public_key,
                   "Ed25519 public key (64 hex characters) to check the checkpoints against")
      ->needs(data_dir);
  for (const char* flag : {"--url", "--key", "--ca-file"}) data_dir->excludes(flag);
  table.AddLocal(verify, [&table, &args] { return Verify(table, args); });
}

}  // namespace

void AddAuditCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<AuditArgs>();
  CLI::App* audit = app.add_subcommand("audit", "Read and verify the tamper-evident audit trail");
  audit->require_subcommand(1);

  CLI::App* list = audit->add_subcommand("list", "List audit records, newest first");
  list->add_option("--project", args.project, "Only records about this project");
  AddFilterFlags(list, args);
  list->add_option("--limit", args.query.limit, "At most this many records (server default 100)")
      ->check(CLI::PositiveNumber);
  table.AddClient(list,
                  [&args](const ClientContext& context) { return ListRecords(context, args); });

  AddVerifyCommand(audit, table, args);

  CLI::App* exported = audit->add_subcommand(
      "export", "Write audit records from a data directory as JSON Lines, oldest first");
  exported->footer(
      "Reads <data-dir>/falaj.db directly (no server needed). Each line holds seq, time_ms,\n"
      "request_id, principal, action, method, resource, status, source, outcome, prev_hash and\n"
      "hash, so anyone can recompute the chain.");
  AddDataDirFlag(exported, args)->required();
  AddFilterFlags(exported, args);
  table.AddLocal(exported, [&args] { return Export(args); });
}

}  // namespace falaj::cli
