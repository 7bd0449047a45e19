// A small blocking HTTP/1.1 client for the CLI (Boost.Beast stays inside http_client.cc).
// Speaks http:// and https:// (peer verified against the system store or a given CA file).
// One request per call; not thread-safe (the CLI is single-threaded).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::cli {

struct ClientOptions {
  std::string base_url;  // e.g. "http://127.0.0.1:8080"
  std::string api_key;
  std::string ca_file;  // extra CA bundle for https; empty: system store only
  // Called as the request body goes out (bytes sent so far, body size), e.g. to draw a progress
  // bar for a large upload. Unset: nothing is reported.
  std::function<void(uint64_t sent, uint64_t total)> upload_progress;
};

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kBinaryContentType = "application/octet-stream";

struct ClientResponse {
  int status = 0;
  std::string body;
};

// Sends `body` (labelled `content_type` when not empty) and reads the whole answer into memory.
// UNAVAILABLE when the server cannot be reached; any HTTP status is a success here.
Result<ClientResponse> SendRequest(const ClientOptions& options, std::string_view method,
                                   std::string_view path, std::string_view body,
                                   std::string_view content_type = kJsonContentType);

}  // namespace falaj::cli
