#include "api/key_material.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/logging.h"
#include "common/random.h"

namespace falaj::api {
namespace {

Result<std::unique_ptr<security::SigningKey>> SigningKeyAt(const std::string& path) {
  FALAJ_ASSIGN_OR_RETURN(auto key, security::SigningKey::LoadOrCreate(path));
  return std::make_unique<security::SigningKey>(std::move(key));
}

// Writes a fresh KEK file (version 1) unless one exists; O_EXCL keeps a racing second server
// from overwriting the first one's key.
Status CreateKekFileIfMissing(const std::string& path) {
  if (std::filesystem::exists(path)) return Ok();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Ok();
    return MakeError(ErrorCode::kInternal, "cannot create '{}': {}", path, std::strerror(errno));
  }
  std::string text = "1:" + RandomBase64Url(32) + "\n";
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::fsync(fd) == 0 && written;
  written = ::close(fd) == 0 && written;
  if (!written) return MakeError(ErrorCode::kInternal, "cannot write '{}'", path);
  log::Warn(
      "generated a key-encryption key in the data directory; in production set "
      "security.kek_uri to a key kept elsewhere",
      {{"path", path}});
  return Ok();
}

}  // namespace

Result<KeyMaterial> LoadKeyMaterial(const Config& config) {
  const std::string& dir = config.storage.data_dir;
  KeyMaterial keys;
  FALAJ_ASSIGN_OR_RETURN(keys.audit_signing, SigningKeyAt(dir + "/audit_signing_key.pem"));
  FALAJ_ASSIGN_OR_RETURN(keys.model_signing, SigningKeyAt(dir + "/model_signing_key.pem"));
  std::string kek_uri = config.security.kek_uri;
  if (kek_uri.empty()) {
    std::string path = std::filesystem::absolute(dir + "/kek.keys").string();
    FALAJ_RETURN_IF_ERROR(CreateKekFileIfMissing(path));
    kek_uri = "file://" + path;
  }
  FALAJ_ASSIGN_OR_RETURN(keys.kek, security::OpenKeyProvider(kek_uri));
  return keys;
}

}  // namespace falaj::api
