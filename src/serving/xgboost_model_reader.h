// Reads an XGBoost model file — JSON or UBJSON (Universal Binary JSON), as saved by XGBoost 1.x
// to 3.x — into plain data: the learner's parameters and each tree as a TreeDescription.
//
// The input is untrusted. The UBJSON decoder is our own and bounds everything: nesting depth,
// every count against the bytes that remain, typed containers to numeric element types; JSON is
// checked for depth before it is parsed. Every tree is checked with ValidateTree, and XGBoost's
// own invariants besides (a split's right child directly follows its left, as XGBoost's
// predictor assumes; node counts match the arrays; categorical splits match their category
// lists), so what comes back is safe to compile or to hand to the library. Anything malformed is
// INVALID_ARGUMENT naming the field; boosters other than gbtree and dart are UNIMPLEMENTED.
//
// Vector-leaf (multi-target) trees are read for their shape only: their leaf vectors are not
// kept, and `leaf_vector_size` > 1 tells the caller so.
//
// Stateless and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "serving/tree_ensemble.h"

namespace falaj::serving {

struct XGBoostModel {
  // The XGBoost version that saved the model ({0, 0, 0} when the file does not say).
  std::array<int64_t, 3> version{};
  std::string objective;  // e.g. "binary:logistic"
  std::string booster;    // "gbtree" or "dart"
  uint32_t num_features = 0;
  uint32_t num_class = 0;  // 0 unless multi-class
  uint32_t num_target = 1;
  // base_score as stored, in the objective's output space: "5E-1" up to XGBoost 3.0, a vector
  // such as "[5E-1]" (one value per output) from 3.1.
  std::string base_score_text;
  std::vector<float> base_score;
  bool base_score_is_vector = false;
  uint32_t leaf_vector_size = 1;
  // For each tree the leaf value is its split_conditions entry, as in XGBoost's own loader.
  std::vector<TreeDescription> trees;
  std::vector<uint32_t> tree_groups;  // XGBoost's tree_info: the output group of each tree
  std::vector<float> tree_weights;    // DART's weight_drop; empty for gbtree
};

Result<XGBoostModel> ReadXGBoostModel(std::string_view artifact);

}  // namespace falaj::serving
