// The addresses the server derives from its configuration once it has bound its port: the bound
// listen address, the gRPC address, and the URL local processes (command jobs, alert links) use
// to reach it. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"

namespace falaj::api {

// "127.0.0.1:0" with the port actually bound.
std::string ReplacePort(const std::string& listen, uint16_t port);

// server.grpc_listen "auto": the HTTP host on the next port, or any free port when HTTP took one.
std::string GrpcAddress(const ServerConfig& server, uint16_t http_port);

// How a process on this machine reaches this server (a command job's MLFLOW_TRACKING_URI): the
// listen address with the bound port, a wildcard host replaced by loopback.
std::string LocalUrl(const ServerConfig& server, uint16_t bound_port);

}  // namespace falaj::api
