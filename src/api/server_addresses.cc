#include "api/server_addresses.h"

#include <fmt/format.h>

namespace falaj::api {

std::string ReplacePort(const std::string& listen, uint16_t port) {
  return listen.substr(0, listen.rfind(':') + 1) + std::to_string(port);
}

std::string GrpcAddress(const ServerConfig& server, uint16_t http_port) {
  if (server.grpc_listen != "auto") return server.grpc_listen;
  auto [host, port] = *ParseListenAddress(server.listen);
  return ReplacePort(server.listen, port == 0 ? 0 : static_cast<uint16_t>(http_port + 1));
}

std::string LocalUrl(const ServerConfig& server, uint16_t bound_port) {
  auto [host, port] = *ParseListenAddress(server.listen);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  bool tls = !server.tls.cert_file.empty();
  if (tls && host == "127.0.0.1") host = "localhost";  // certificates name hosts, rarely IPs
  return fmt::format("{}://{}:{}", tls ? "https" : "http", host, bound_port);
}

}  // namespace falaj::api
