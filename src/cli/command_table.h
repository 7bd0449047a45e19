// The table of `falaj` leaf commands. Each command group registers its subcommands and flags on
// the CLI::App and says what each one runs; Main parses the command line once and runs the
// command it chose. Client commands share the --url/--key/--ca-file/-o flags and receive a
// resolved ClientContext, so a command's own code is only its request and its printing.
// Single-threaded.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/client_call.h"

namespace falaj::cli {

using ClientAction = std::function<int(const ClientContext&)>;

// Accepts only a project role (viewer, developer, …); its error lists them.
CLI::Validator ProjectRoleCheck();

// The values of a repeatable `flag` such as --label k=v, split at the first '=' (a later
// repetition of a key wins). INVALID_ARGUMENT naming the flag for an item without '='.
Result<std::map<std::string, std::string>> ParseKeyValues(std::string_view flag,
                                                          const std::vector<std::string>& items);

class CommandTable {
 public:
  // A default-constructed T owned by the table: where a command group keeps the arguments that
  // CLI11 writes while parsing and its action reads afterwards.
  template <typename T>
  T& Keep() {
    auto held = std::make_unique<Held<T>>();
    T& value = held->value;
    held_.push_back(std::move(held));
    return value;
  }

  // Adds -o/--output (table, json or yaml) to `command`; returns it.
  CLI::App* AddOutputFlag(CLI::App* command);
  // Adds --url, --key and --ca-file to `command`; returns it.
  CLI::App* AddConnectionFlags(CLI::App* command);
  // Adds --url, --key, --ca-file and -o/--output to `command`; returns it.
  CLI::App* AddClientFlags(CLI::App* command);

  // A command that talks to a server: gets the client flags; when chosen, `run` receives the
  // resolved context.
  void AddClient(CLI::App* command, ClientAction run);
  // A command that decides for itself what to do (it may still call WithClient).
  void AddLocal(CLI::App* command, std::function<int()> run);

  // The format chosen with -o (table when not given).
  OutputFormat format() const;
  // Resolves the client flags (exit code 2 when they cannot be) and runs `run`.
  int WithClient(const ClientAction& run) const;

  // Runs the command the parsed command line chose and returns its exit code (2 if none was).
  int Run() const;

 private:
  struct HeldBase {
    virtual ~HeldBase() = default;
  };
  template <typename T>
  struct Held final : HeldBase {
    T value{};
  };

  // Shared by every command: CLI11 writes only the flags of the one command it parsed.
  ClientOptions options_;
  std::string output_ = "table";
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands_;
  std::vector<std::unique_ptr<HeldBase>> held_;
};

}  // namespace falaj::cli
