#include "serving/model_runtime.h"

#include "common/logging.h"

namespace falaj::serving {

Result<std::unique_ptr<LoadedModel>> LoadModel(std::string_view format, std::string_view runtime,
                                               std::string_view artifact) {
  const bool automatic = runtime.empty() || runtime == "auto";
  if (format == "linear" && (automatic || runtime == "linear")) return LoadLinearModel(artifact);
  if (format == "xgboost") {
    if (runtime == "xgboost") return LoadXGBoostModel(artifact);
    if (runtime == "trees") return LoadTreesModel(artifact);
    if (automatic) {
      auto compiled = LoadTreesModel(artifact);
      if (compiled || compiled.error().code != ErrorCode::kUnimplemented) return compiled;
      // What the compiled predictor cannot reproduce exactly, the library itself serves.
      log::Info("serving an xgboost model with the library runtime",
                {{"reason", compiled.error().message}});
      return LoadXGBoostModel(artifact);
    }
  }
  return MakeError(ErrorCode::kUnimplemented,
                   "models of format '{}' cannot be served by runtime '{}' (linear serves "
                   "'linear'; xgboost and trees serve 'xgboost')",
                   format.substr(0, 40), runtime.empty() ? "auto" : runtime.substr(0, 40));
}

}  // namespace falaj::serving
