#include "api/mlflow_model_source.h"

#include <map>

namespace falaj::api::mlflow {
namespace {

constexpr std::string_view kArtifactScheme = "mlflow-artifacts:";
constexpr size_t kMaxMlmodelBytes = 1 << 20;

std::unexpected<Error> Unresolvable(std::string_view source, std::string_view why) {
  return MakeError(ErrorCode::kInvalidArgument, "model version source '{}' cannot be used: {}",
                   source.substr(0, 200), why);
}

// "mlflow-artifacts:/1/abc/artifacts" → "1/abc/artifacts"; nullopt for another scheme or host.
std::optional<std::string> IndexPath(std::string_view uri) {
  if (!uri.starts_with(kArtifactScheme)) return std::nullopt;
  uri.remove_prefix(kArtifactScheme.size());
  if (uri.starts_with("//")) return std::nullopt;  // another server's artifacts
  while (!uri.empty() && uri.front() == '/') uri.remove_prefix(1);
  while (!uri.empty() && uri.back() == '/') uri.remove_suffix(1);
  return std::string(uri);
}

// The flavours of an MLmodel file (YAML written by MLflow: two-space indentation, one "  name:"
// line per flavour under "flavors:"), each with its "    data:" entry ("" when none).
std::map<std::string, std::string> Flavours(std::string_view mlmodel) {
  std::map<std::string, std::string> flavours;
  bool inside = false;
  std::string current;
  size_t at = 0;
  while (at < mlmodel.size()) {
    size_t end = std::min(mlmodel.find('\n', at), mlmodel.size());
    std::string_view line = mlmodel.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "flavors:") {
      inside = true;
    } else if (inside && !line.empty() && line.front() != ' ') {
      inside = false;
    } else if (inside && line.starts_with("  ") && line.size() > 3 && line[2] != ' ' &&
               line.back() == ':') {
      current = line.substr(2, line.size() - 3);
      flavours[current] = "";
    } else if (inside && !current.empty() && line.starts_with("    data: ")) {
      flavours[current] = line.substr(10);
    }
  }
  return flavours;
}

// The Falaj format and the model's own file (the flavour's data entry).
Result<std::pair<std::string, std::string>> FormatOf(
    std::string_view source, const std::map<std::string, std::string>& flavours) {
  // MLflow flavour → Falaj format; flavours whose files are pickles are not here on purpose.
  for (auto [flavour, format] : {std::pair{"xgboost", "xgboost"}, std::pair{"lightgbm", "lightgbm"},
                                 std::pair{"onnx", "onnx"}}) {
    if (auto found = flavours.find(flavour); found != flavours.end()) {
      return std::pair<std::string, std::string>(format, found->second);
    }
  }
  std::string names;
  for (const auto& [name, data] : flavours) names += (names.empty() ? "" : ", ") + name;
  return Unresolvable(source, fmt::format("its flavours ({}) are not servable by Falaj, which "
                                          "registers MLflow models of the xgboost, lightgbm or "
                                          "onnx flavour (pickled flavours are refused)",
                                          names.empty() ? "none" : names));
}

Result<std::string> LoggedModelDirectory(const MlflowServices& services, std::string_view project,
                                         std::string_view source, std::string_view model_id) {
  FALAJ_ASSIGN_OR_RETURN(auto model, services.logged_models.Get(project, model_id));
  auto path = IndexPath(model.artifact_location);
  if (!path) return Unresolvable(source, "its logged model's artifacts are not on this server");
  return *path;
}

}  // namespace

std::string RegistryDirectory(std::string_view model) { return fmt::format("_registry/{}", model); }

std::string RegistryDirectory(std::string_view model, int64_t version) {
  return fmt::format("{}/{}", RegistryDirectory(model), version);
}

Result<ModelSource> ResolveModelSource(const MlflowServices& services, std::string_view project,
                                       std::string_view source, std::string_view run_id,
                                       std::string_view model_id) {
  ModelSource resolved;
  resolved.run_id = run_id;
  resolved.model_id = model_id;
  if (source.starts_with("models:/")) {
    std::string_view id = source.substr(8);
    id = id.substr(0, id.find('/'));
    if (!id.starts_with("m-")) {
      return Unresolvable(source, "only models:/m-<id> (a logged model) can be a source");
    }
    resolved.model_id = id;
    FALAJ_ASSIGN_OR_RETURN(resolved.directory, LoggedModelDirectory(services, project, source, id));
  } else if (source.starts_with("runs:/")) {
    std::string_view rest = source.substr(6);
    size_t slash = rest.find('/');
    std::string run(rest.substr(0, slash));
    std::string sub(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    while (!sub.empty() && sub.back() == '/') sub.pop_back();
    FALAJ_ASSIGN_OR_RETURN(auto found, services.tracking.GetRun(project, run));
    resolved.run_id = run;
    auto root = IndexPath(found.info.artifact_uri);
    if (!root) return Unresolvable(source, "the run's artifacts are not on this server");
    resolved.directory = sub.empty() ? *root : *root + "/" + sub;
    FALAJ_ASSIGN_OR_RETURN(auto files,
                           services.artifact_index.FilesUnder(project, resolved.directory));
    if (files.empty() && !sub.empty()) {
      // MLflow 3 logs models as logged models named after the path, not under the run.
      FALAJ_ASSIGN_OR_RETURN(
          auto page, services.logged_models.Search(project, {found.info.experiment_id}, 1000, ""));
      for (const auto& model : page.models) {
        if (model.source_run_id == run && model.name == sub) {
          resolved.model_id = model.model_id;
          FALAJ_ASSIGN_OR_RETURN(resolved.directory,
                                 LoggedModelDirectory(services, project, source, model.model_id));
          break;
        }
      }
    }
  } else if (auto path = IndexPath(source)) {
    resolved.directory = *path;
  } else {
    return Unresolvable(source,
                        "it must be a models:/m-…, runs:/ or mlflow-artifacts:/ URI of "
                        "this project");
  }
  if (resolved.directory.empty()) return Unresolvable(source, "it names the artifact root");
  FALAJ_ASSIGN_OR_RETURN(auto files,
                         services.artifact_index.FilesUnder(project, resolved.directory));
  if (files.empty()) return Unresolvable(source, "no artifacts were uploaded there");
  std::string mlmodel_digest;
  for (const auto& file : files) {
    std::string relative = file.path.substr(resolved.directory.size() + 1);
    if (relative == "MLmodel") mlmodel_digest = file.sha256;
    resolved.files.push_back({std::move(relative), file.sha256, file.size});
  }
  if (mlmodel_digest.empty()) return Unresolvable(source, "it has no MLmodel file");
  FALAJ_ASSIGN_OR_RETURN(auto blobs, services.blobs(project));
  FALAJ_ASSIGN_OR_RETURN(auto reader, blobs->Open(mlmodel_digest));
  if (reader->size() > kMaxMlmodelBytes) return Unresolvable(source, "its MLmodel file is too big");
  FALAJ_ASSIGN_OR_RETURN(auto mlmodel, blobs->Get(mlmodel_digest));
  FALAJ_ASSIGN_OR_RETURN(auto format, FormatOf(source, Flavours(mlmodel)));
  resolved.format = format.first;
  resolved.model_file = format.second;
  return resolved;
}

}  // namespace falaj::api::mlflow
