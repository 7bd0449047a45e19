#include "cli/member_commands.h"

#include <string>

#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kMemberColumns = {"subject", "role", "created_at"};

struct MemberArgs {
  std::string project;
  std::string subject;
  std::string role;
};

CLI::App* AddMemberCommand(CLI::App* members, const char* name, const char* description,
                           MemberArgs& args, bool with_subject) {
  CLI::App* command = members->add_subcommand(name, description);
  command->add_option("project", args.project, "Project name")->required();
  if (with_subject) {
    command
        ->add_option("subject", args.subject,
                     "Who: key:<id>, user:<name>, group:<name> or cert:<client certificate CN> "
                     "(e.g. group:ml-team)")
        ->required();
  }
  return command;
}

}  // namespace

void AddMemberCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<MemberArgs>();
  CLI::App* members = app.add_subcommand("members", "Manage who holds which role in a project");
  members->require_subcommand(1);

  table.AddClient(AddMemberCommand(members, "list", "List a project's role bindings", args, false),
                  [&args](const ClientContext& context) {
                    return CallAndPrintList(context, ApiPath({"projects", args.project, "members"}),
                                            "members", kMemberColumns);
                  });

  CLI::App* set = AddMemberCommand(
      members, "set", "Give a subject a role in a project (replacing any role it had)", args, true);
  set->add_option("role", args.role, "The role")->required()->check(ProjectRoleCheck());
  table.AddClient(set, [&args](const ClientContext& context) {
    return CallAndPrintItem(context, "PUT",
                            ApiPath({"projects", args.project, "members", args.subject}),
                            nlohmann::json{{"role", args.role}}.dump(), kMemberColumns);
  });

  table.AddClient(
      AddMemberCommand(members, "remove", "Remove a subject's role in a project", args, true),
      [&args](const ClientContext& context) {
        return CallAndConfirm(context, "DELETE",
                              ApiPath({"projects", args.project, "members", args.subject}),
                              "removed " + args.subject + " from project " + args.project);
      });
}

}  // namespace falaj::cli
