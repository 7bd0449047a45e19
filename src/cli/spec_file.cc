#include "cli/spec_file.h"

#include "cli/model_files.h"
#include "data/yaml_json.h"

namespace falaj::cli {

Result<nlohmann::json> ReadSpecFile(const std::string& path, std::string_view what) {
  FALAJ_ASSIGN_OR_RETURN(auto text, ReadLocalFile(path));
  auto spec = data::YamlToJson(text);
  if (!spec) return MakeError(ErrorCode::kInvalidArgument, "{}: {}", path, spec.error().message);
  if (!spec->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: {} is a mapping", path, what);
  }
  return *spec;
}

}  // namespace falaj::cli
