// The JSON of POST /api/v1/projects/{p}/features/online, on the data plane: the request parsed
// with simdjson into entity keys that point into the parsed text, and the Feast-shaped answer
// written straight into a string — byte for byte what nlohmann would write for the same answer
// (objects' keys sorted, its shortest round-trip doubles, its escaping) without building a
// document of it. docs/features.md shows the shapes.
//
// Thread-safe: parsing uses a parser per thread; a parsed request's views stay valid until the
// same thread parses again.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "features/online_features.h"
#include "features/online_read_plan.h"

namespace falaj::api {

struct OnlineReadRequest {
  features::OnlineQuery query;
  bool full_feature_names = false;
  // The entity key columns sorted by name: the order the answer echoes them in (never empty).
  std::vector<std::string_view> key_names;
  std::vector<std::vector<features::EntityKey>> key_values;
};

// INVALID_ARGUMENT, with the message the route answers, for a body that is not such a request.
Result<OnlineReadRequest> ParseOnlineRead(const std::string& body, std::string_view project);

// The request's key columns in the plan's join-key order: INVALID_ARGUMENT when a view's join key
// is missing or the columns differ in length.
Result<std::vector<std::span<const features::EntityKey>>> PlanKeys(
    const features::PreparedRead& plan, const OnlineReadRequest& read);

std::string RenderOnlineRead(const features::PreparedRead& plan, const OnlineReadRequest& read,
                             const features::OnlineReadResult& found);

}  // namespace falaj::api
