// Run search as SQL: a parsed RunFilter and RunOrder become one parameterised query over
// tracking_runs that filters, orders and cuts the page in the database, so a search reads only
// the runs of its page. Semantics are RunFilter::Matches and RunOrder::Before exactly (missing
// keys and NaN never match except NaN with !=, missing values and NaN sort last, case-sensitive
// LIKE, byte-wise string order, ties on start_time DESC then run_id); run_search_sql_test.cc
// checks that against them on random runs, filters and orders.
//
// Portable across the MetadataStore backends: the only differences are spelled per backend
// ("sqlite" uses GLOB for the case-sensitive LIKE; PostgreSQL uses LIKE … ESCAPE '' and
// COLLATE "C" for the byte order). Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/metadata_store.h"
#include "tracking/run_filter.h"

namespace falaj::tracking {

struct RunQuery {
  std::string sql;  // selects kRunColumns' columns, in their order
  std::vector<storage::SqlValue> params;
};

struct RunScope {
  std::string_view project;
  std::vector<int64_t> experiment_ids;  // not empty
  ViewType view = ViewType::kActiveOnly;
};

// The runs of `scope` matching `filter`, in `order`, `limit` of them from `offset`.
RunQuery BuildRunQuery(std::string_view backend, const RunScope& scope, const RunFilter& filter,
                       const RunOrder& order, size_t limit, size_t offset);

// The glob pattern (SQLite GLOB) matching exactly what the LIKE pattern matches: '%' any run,
// '_' one character, every other character itself.
std::string LikeToGlob(std::string_view pattern);

}  // namespace falaj::tracking
