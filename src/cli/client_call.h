// What every client command shares: the resolved server connection and output format, one REST
// call with the server's refusal turned into an error, the exit-code convention (0 ok, 1 the
// server refused, 2 bad usage or an unreachable server) and printing of answers. Single-threaded.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/http_client.h"
#include "cli/output.h"
#include "common/result.h"

namespace falaj::cli {

struct ClientContext {
  ClientOptions options;
  OutputFormat format = OutputFormat::kTable;
};

// The JSON members a table shows, in order.
using Columns = std::vector<std::string>;

// Fills unset url/key from FALAJ_URL / FALAJ_KEY, then ~/.config/falaj/config.yaml, then the
// default http://127.0.0.1:8080. INVALID_ARGUMENT if the config file is malformed.
Status ResolveClientOptions(ClientOptions& options);

// The refusal in an answer with a status of 400 or more: FAILED_PRECONDITION with the status,
// the error code and the server's message.
Error RefusalError(const ClientResponse& response);

// Sends one request. A status of 400 or more becomes RefusalError; an unreachable server is
// UNAVAILABLE. Returns the body as received (e.g. a downloaded file).
Result<std::string> CallForBytes(const ClientContext& context, std::string_view method,
                                 const std::string& path, std::string_view body = "",
                                 std::string_view content_type = kJsonContentType);
// CallForBytes, with the body parsed (null when empty or not JSON).
Result<nlohmann::json> Call(const ClientContext& context, std::string_view method,
                            const std::string& path, std::string_view body = "",
                            std::string_view content_type = kJsonContentType);

// Prints "falaj: <message>" on stderr; returns 1 for a refusal by the server
// (FAILED_PRECONDITION) or an answer that failed the client's own check (DATA_LOSS), 2
// otherwise.
int Report(const Error& error);
// Prints "falaj: <message>" on stderr; returns 2 (bad usage, or nothing to talk to).
int UsageError(std::string_view message);

// Prints one object (a table of one row, or the object itself in JSON/YAML); returns 0.
int PrintItem(const ClientContext& context, const nlohmann::json& item, const Columns& columns);
// Prints a list (a table, or a JSON/YAML array); returns 0.
int PrintList(const ClientContext& context, const nlohmann::json& items, const Columns& columns);

// The usual commands in one line each: a call whose answer is one object, a GET whose answer
// holds a list under `member`, and a call answered without a body (then `done` is printed).
int CallAndPrintItem(const ClientContext& context, std::string_view method, const std::string& path,
                     const std::string& body, const Columns& columns);
int CallAndPrintList(const ClientContext& context, const std::string& path,
                     const std::string& member, const Columns& columns);
int CallAndConfirm(const ClientContext& context, std::string_view method, const std::string& path,
                   const std::string& done);

}  // namespace falaj::cli
