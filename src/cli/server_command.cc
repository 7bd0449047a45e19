#include "cli/server_command.h"

#include <signal.h>

#include <cstdio>
#include <thread>

#include "api/server.h"
#include "common/logging.h"

namespace falaj::cli {

Result<Config> AssembleConfig(const ServerFlags& flags) {
  ConfigSources sources;
  sources.env = ProcessEnvironment();
  sources.file = flags.config_file;
  if (sources.file.empty()) {
    if (auto found = sources.env.find("FALAJ_CONFIG"); found != sources.env.end()) {
      sources.file = found->second;
    }
  }
  if (!flags.data_dir.empty()) sources.overrides.emplace_back("storage.data_dir", flags.data_dir);
  if (!flags.listen.empty()) sources.overrides.emplace_back("server.listen", flags.listen);
  for (const auto& assignment : flags.set) {
    auto equals = assignment.find('=');
    if (equals == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "--set '{}' must be key=value", assignment);
    }
    sources.overrides.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
  }
  return LoadConfig(sources);
}

int PrintConfig(const ServerFlags& flags) {
  auto config = AssembleConfig(flags);
  if (!config) {
    std::fprintf(stderr, "falaj: %s\n", config.error().message.c_str());
    return 2;
  }
  std::fputs(RenderConfigYaml(*config).c_str(), stdout);
  return 0;
}

int RunServer(const ServerFlags& flags) {
  auto config = AssembleConfig(flags);
  if (!config) {
    log::Error("invalid configuration", {{"error", config.error().message}});
    return 2;
  }
  // Block the stop signals in every thread; one thread waits for them synchronously, which is
  // the only async-signal-safe way to run real code in response.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = api::Server::Create(*config);
  if (!server) {
    log::Error("start-up failed",
               {{"error", server.error().message}, {"code", ErrorCodeName(server.error().code)}});
    return 1;
  }
  std::thread signal_waiter([&stop_signals, &server] {
    int received = 0;
    sigwait(&stop_signals, &received);
    log::Info("signal received", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
    (*server)->Stop();
  });
  (*server)->Run();
  // Run() returns only after a stop; wake the waiter if something other than a signal stopped
  // us (a second Stop() is harmless).
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  server->reset();
  log::Info("exited cleanly");
  return 0;
}

}  // namespace falaj::cli
