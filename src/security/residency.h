// Data residency: every project is pinned to a region; moving its data anywhere else (export,
// download, replication, deployment on a node of another region) is a transfer, denied unless
// the project has a transfer policy for the target region that records its legal basis.
// Data classes listed as restricted (e.g. "health", for the UAE ICT Health Law's localisation
// rule) never leave the project's region, whatever the policies say.
//
// Thread-safe: all state lives in the MetadataStore.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::security {

struct TransferPolicy {
  std::string project;
  std::string to_region;
  std::string legal_basis;                // one of LegalBases()
  std::vector<std::string> data_classes;  // classes the policy covers; empty: unclassified only
  std::string created_by;
  int64_t created_at_ms = 0;
};

struct TransferDecision {
  bool allowed = false;
  std::string legal_basis;  // set when allowed across regions; "same-region" within one
  std::string reason;       // why, in words fit for an audit record and an error message
};

// The legal bases a cross-region transfer may rest on (UAE PDPL Art. 22-23 and the free-zone
// regimes' equivalents); anything else is refused.
const std::vector<std::string_view>& LegalBases();

// Classes a dataset column may carry.
const std::vector<std::string_view>& DataClasses();

class ResidencyService {
 public:
  explicit ResidencyService(storage::MetadataStore& store) : store_(store) {}

  static const storage::MigrationSet& Migrations();

  // Replaces the project's policy for `to_region`. INVALID_ARGUMENT for an unknown basis or
  // class, or a target equal to the project's own region.
  Result<TransferPolicy> SetPolicy(const TransferPolicy& policy, std::string_view project_region);
  Result<std::vector<TransferPolicy>> ListPolicies(std::string_view project);
  Status RemovePolicy(std::string_view project, std::string_view to_region);

  // Classes that may never leave the project's region.
  Status SetRestrictedClasses(std::string_view project, const std::vector<std::string>& classes);
  Result<std::vector<std::string>> RestrictedClasses(std::string_view project);

  // May data of `data_class` ("" for unclassified) move from the project's region to
  // `to_region`? Never an error for a refusal: the decision says why.
  Result<TransferDecision> CheckTransfer(std::string_view project, std::string_view project_region,
                                         std::string_view to_region, std::string_view data_class);

  // For the project ownership check.
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

 private:
  storage::MetadataStore& store_;
};

}  // namespace falaj::security
