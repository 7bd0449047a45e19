// The composition root of `falaj server`: opens storage and runs every module's migrations,
// bootstraps the first admin key, registers all routes (each with its permission), and serves
// HTTP until a graceful stop. Storage closes cleanly when the Server is destroyed.
//
// Thread-safety: Create() and Run() from one thread; Stop() from any thread.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/result.h"

namespace falaj::api {

class Server {
 public:
  static Result<std::unique_ptr<Server>> Create(const Config& config);
  ~Server();

  uint16_t port() const;
  // Serves until Stop() finishes draining.
  void Run();
  void Stop();

 private:
  struct Parts;
  explicit Server(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace falaj::api
