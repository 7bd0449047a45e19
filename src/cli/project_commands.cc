#include "cli/project_commands.h"

#include <cstdio>

#include "cli/url_encoding.h"

namespace falaj::cli {
namespace {

const Columns kProjectColumns = {"name", "region", "description", "labels", "created_at"};

struct ProjectArgs {
  std::string name;
  std::string region;
  std::string description;
  std::vector<std::string> labels;  // "key=value"
};

int CreateProject(const ClientContext& context, const ProjectArgs& args) {
  auto labels = ParseKeyValues("--label", args.labels);
  if (!labels) return UsageError(labels.error().message);
  nlohmann::json body = {{"name", args.name}, {"region", args.region}, {"labels", *labels}};
  if (!args.description.empty()) body["description"] = args.description;
  return CallAndPrintItem(context, "POST", ApiPath({"projects"}), body.dump(), kProjectColumns);
}

}  // namespace

void AddProjectCommands(CLI::App& app, CommandTable& table) {
  auto& args = table.Keep<ProjectArgs>();
  CLI::App* projects = app.add_subcommand("projects", "Manage projects (the tenants of Falaj)");
  projects->require_subcommand(1);

  CLI::App* create = projects->add_subcommand("create", "Create a project");
  create->add_option("name", args.name, "Project name (lowercase DNS label)")->required();
  create->add_option("--region", args.region, "Region the project is pinned to")->required();
  create->add_option("--description", args.description, "Free-text description");
  create->add_option("--label", args.labels, "Label key=value (repeatable)");
  table.AddClient(create,
                  [&args](const ClientContext& context) { return CreateProject(context, args); });

  table.AddClient(projects->add_subcommand("list", "List the projects you can see"),
                  [](const ClientContext& context) {
                    return CallAndPrintList(context, ApiPath({"projects"}), "projects",
                                            kProjectColumns);
                  });

  CLI::App* get = projects->add_subcommand("get", "Show one project");
  get->add_option("name", args.name, "Project name")->required();
  table.AddClient(get, [&args](const ClientContext& context) {
    return CallAndPrintItem(context, "GET", ApiPath({"projects", args.name}), "", kProjectColumns);
  });

  CLI::App* remove = projects->add_subcommand("delete", "Delete a project that owns nothing");
  remove->add_option("name", args.name, "Project name")->required();
  table.AddClient(remove, [&args](const ClientContext& context) {
    return CallAndConfirm(context, "DELETE", ApiPath({"projects", args.name}),
                          "deleted project " + args.name);
  });
}

}  // namespace falaj::cli
