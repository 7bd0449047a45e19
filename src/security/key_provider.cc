#include "security/key_provider.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "common/encoding.h"
#include "security/aead.h"
#include "storage/scheme_registry.h"
#include "storage/storage_uri.h"

namespace falaj::security {
namespace {

constexpr std::string_view kDefaultKekId = "local";
constexpr std::string_view kWrapLabel = "falaj/kek-wrap/v1";
// A key file holds a few dozen lines at most; anything larger is not a key file.
constexpr size_t kMaxKeyFileSize = 64 * 1024;

void Wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

void AppendField(std::string* out, std::string_view field) {
  uint32_t size = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(size >> shift));
  out->append(field);
}

// Binds the wrapped key to the KEK id and version, so a ciphertext relabelled with another
// version fails instead of being tried under the wrong key.
std::string WrapAad(std::string_view kek_id, uint32_t version, std::string_view aad) {
  std::string bound(kWrapLabel);
  AppendField(&bound, kek_id);
  AppendField(&bound, std::to_string(version));
  AppendField(&bound, aad);
  return bound;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

Result<uint32_t> ParseVersion(std::string_view text, std::string_view where) {
  uint32_t version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{}: key version must be an integer from 1 to 4294967295", where);
  }
  return version;
}

std::string_view Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

struct ParsedKeys {
  std::string kek_id{kDefaultKekId};
  uint32_t current_version = 0;  // 0: the highest
  std::map<uint32_t, std::string> keys;
  ~ParsedKeys() {
    for (auto& [version, key] : keys) Wipe(key);
  }
};

Status AddParsedKey(ParsedKeys& parsed, uint32_t version, std::string_view encoded,
                    std::string_view where) {
  auto key = DecodeBase64(encoded);
  if (!key || key->size() != kAeadKeySize) {
    if (key) Wipe(*key);
    return MakeError(ErrorCode::kInvalidArgument, "{}: key version {} is not {} bytes of base64url",
                     where, version, kAeadKeySize);
  }
  if (!parsed.keys.emplace(version, std::move(*key)).second) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: key version {} appears twice", where,
                     version);
  }
  return Ok();
}

Status ParseLines(std::string_view text, std::string_view source, ParsedKeys& parsed) {
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    line = line.substr(0, line.find('#'));
    std::string where = fmt::format("{} line {}", source, line_number);
    // Entries may also share a line, separated by ',' ';' or blanks (environment variables).
    while (!line.empty()) {
      size_t separator = line.find_first_of(",; \t\r");
      std::string_view entry = line.substr(0, separator);
      line = separator == std::string_view::npos ? std::string_view() : line.substr(separator + 1);
      if (entry.empty()) continue;
      size_t colon = entry.find(':');
      if (colon == std::string_view::npos) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: expected 'version:base64url-key'",
                         where);
      }
      auto version = ParseVersion(entry.substr(0, colon), where);
      if (!version) return std::unexpected(version.error());
      FALAJ_RETURN_IF_ERROR(AddParsedKey(parsed, *version, entry.substr(colon + 1), where));
    }
  }
  return Ok();
}

Status ParseJson(std::string_view text, std::string_view source, ParsedKeys& parsed) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: not a JSON object", source);
  }
  for (const auto& [name, value] : json.items()) {
    if (name == "kek_id" && value.is_string() && !value.get_ref<const std::string&>().empty()) {
      parsed.kek_id = value.get<std::string>();
    } else if (name == "current_version" && value.is_number_unsigned() && value > 0 &&
               value <= UINT32_MAX) {
      parsed.current_version = value.get<uint32_t>();
    } else if (name == "keys" && value.is_array()) {
      for (const auto& entry : value) {
        const auto* version = entry.is_object() && entry.size() == 2 && entry.contains("version")
                                  ? &entry["version"]
                                  : nullptr;
        if (version == nullptr || !version->is_number_unsigned() || *version == 0 ||
            *version > UINT32_MAX || !entry.contains("key") || !entry["key"].is_string()) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "{}: each of \"keys\" must be {{\"version\": n >= 1, \"key\": \"...\"}}",
                           source);
        }
        FALAJ_RETURN_IF_ERROR(AddParsedKey(parsed, version->get<uint32_t>(),
                                           entry["key"].get_ref<const std::string&>(), source));
      }
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{}: unknown or malformed field '{}' (known: kek_id, current_version, keys)",
                       source, name);
    }
  }
  return Ok();
}

}  // namespace

Result<std::string> DecodeBase64(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid base64: impossible length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    int value = Base64Value(c);
    if (value < 0) {
      Wipe(out);
      return MakeError(ErrorCode::kInvalidArgument, "invalid base64: unexpected character");
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  return out;
}

Result<WrappedKey> KeyEncryptionKeyProvider::Rewrap(const WrappedKey& wrapped,
                                                    std::string_view aad) {
  auto dek = Unwrap(wrapped, aad);
  if (!dek) return std::unexpected(dek.error());
  auto rewrapped = Wrap(*dek, aad);
  Wipe(*dek);
  return rewrapped;
}

LocalKeyProvider::~LocalKeyProvider() {
  for (auto& [version, key] : keys_) Wipe(key);
}

Result<std::unique_ptr<LocalKeyProvider>> LocalKeyProvider::FromText(std::string_view text,
                                                                     std::string_view source) {
  ParsedKeys parsed;
  text = Trim(text);
  if (!text.empty() && text.front() == '{') {
    FALAJ_RETURN_IF_ERROR(ParseJson(text, source, parsed));
  } else {
    FALAJ_RETURN_IF_ERROR(ParseLines(text, source, parsed));
  }
  if (parsed.keys.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "{} holds no key-encryption key", source);
  }
  uint32_t current =
      parsed.current_version != 0 ? parsed.current_version : parsed.keys.rbegin()->first;
  if (!parsed.keys.contains(current)) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: current_version {} has no key", source,
                     current);
  }
  std::unique_ptr<LocalKeyProvider> provider(new LocalKeyProvider(parsed.kek_id));
  for (auto& [version, key] : parsed.keys) {
    FALAJ_RETURN_IF_ERROR(provider->AddVersion(version, key, /*make_current=*/false));
  }
  provider->current_version_ = current;
  return provider;
}

Result<std::unique_ptr<LocalKeyProvider>> LocalKeyProvider::FromFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kFailedPrecondition,
                     "cannot open key file '{}': {}", path, std::generic_category().message(err));
  }
  // fstat on the open descriptor checks the very file that is read, not what a path names later.
  struct stat info {};
  std::string content;
  Status checked = [&]() -> Status {
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      return MakeError(ErrorCode::kFailedPrecondition, "key file '{}' is not a regular file", path);
    }
    if ((info.st_mode & 077) != 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "key file '{}' has mode {:04o}; a key file must not be accessible to group "
                       "or others (run: chmod 600 '{}')",
                       path, info.st_mode & 07777, path);
    }
    if (static_cast<uint64_t>(info.st_size) > kMaxKeyFileSize) {
      return MakeError(ErrorCode::kInvalidArgument, "key file '{}' is larger than {} bytes", path,
                       kMaxKeyFileSize);
    }
    content.resize(static_cast<size_t>(info.st_size));
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::read(fd, content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return MakeError(ErrorCode::kFailedPrecondition, "cannot read key file '{}'", path);
      }
      done += static_cast<size_t>(n);
    }
    return Ok();
  }();
  ::close(fd);
  if (!checked) {
    Wipe(content);
    return std::unexpected(checked.error());
  }
  auto provider = FromText(content, fmt::format("key file '{}'", path));
  Wipe(content);
  return provider;
}

Status LocalKeyProvider::AddVersion(uint32_t version, std::string_view key, bool make_current) {
  if (version == 0) return MakeError(ErrorCode::kInvalidArgument, "KEK versions start at 1");
  if (key.size() != kAeadKeySize) {
    return MakeError(ErrorCode::kInvalidArgument, "a KEK must be {} bytes, got {}", kAeadKeySize,
                     key.size());
  }
  std::unique_lock lock(mutex_);
  auto [found, inserted] = keys_.emplace(version, std::string(key));
  if (!inserted && !ConstantTimeEquals(found->second, key)) {
    return MakeError(ErrorCode::kAlreadyExists, "KEK '{}' already has a different version {}",
                     kek_id_, version);
  }
  if (make_current) current_version_ = version;
  return Ok();
}

uint32_t LocalKeyProvider::current_version() const {
  std::shared_lock lock(mutex_);
  return current_version_;
}

Result<WrappedKey> LocalKeyProvider::Wrap(std::string_view dek, std::string_view aad) {
  std::shared_lock lock(mutex_);
  if (current_version_ == 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "KEK '{}' has no versions", kek_id_);
  }
  auto sealed = AeadSeal(keys_.at(current_version_), dek, WrapAad(kek_id_, current_version_, aad));
  if (!sealed) return std::unexpected(sealed.error());
  return WrappedKey{kek_id_, current_version_, std::move(*sealed)};
}

Result<std::string> LocalKeyProvider::Unwrap(const WrappedKey& wrapped, std::string_view aad) {
  if (wrapped.kek_id != kek_id_) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "data key is wrapped by KEK '{}', but the configured KEK is '{}'",
                     wrapped.kek_id, kek_id_);
  }
  std::shared_lock lock(mutex_);
  auto key = keys_.find(wrapped.kek_version);
  if (key == keys_.end()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "KEK '{}' has no version {} (held: {}..{}); was it removed from the key "
                     "source before every data key was rewrapped?",
                     kek_id_, wrapped.kek_version, keys_.begin()->first, keys_.rbegin()->first);
  }
  auto dek = AeadOpen(key->second, wrapped.ciphertext, WrapAad(kek_id_, wrapped.kek_version, aad));
  if (!dek) {
    return MakeError(dek.error().code,
                     "cannot unwrap data key with KEK '{}' version {}: {} (wrong key material for "
                     "this version, or the wrapped key was altered)",
                     kek_id_, wrapped.kek_version, dek.error().message);
  }
  return dek;
}

namespace {

bool IsEnvironmentName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::unique_ptr<KeyEncryptionKeyProvider>> OpenFileProvider(std::string_view location) {
  auto provider = LocalKeyProvider::FromFile(std::string(location));
  if (!provider) return std::unexpected(provider.error());
  return std::unique_ptr<KeyEncryptionKeyProvider>(std::move(*provider));
}

Result<std::unique_ptr<KeyEncryptionKeyProvider>> OpenEnvProvider(std::string_view location) {
  if (!IsEnvironmentName(location)) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' is not an environment variable name",
                     location.substr(0, 64));
  }
  std::string name(location);
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "environment variable {} holding the key-encryption keys is not set", name);
  }
  auto provider = LocalKeyProvider::FromText(value, "environment variable " + name);
  if (!provider) return std::unexpected(provider.error());
  return std::unique_ptr<KeyEncryptionKeyProvider>(std::move(*provider));
}

// Never destroyed, so providers may still be opened while other statics are torn down at exit.
storage::SchemeRegistry<KeyProviderFactory>& Registry() {
  static auto* registry = new storage::SchemeRegistry<KeyProviderFactory>(
      "key provider", {{"file", OpenFileProvider}, {"env", OpenEnvProvider}});
  return *registry;
}

}  // namespace

void RegisterKeyProviderScheme(std::string scheme, KeyProviderFactory factory) {
  Registry().Register(std::move(scheme), std::move(factory));
}

Result<std::unique_ptr<KeyEncryptionKeyProvider>> OpenKeyProvider(std::string_view uri) {
  auto parsed = storage::ParseStorageUri(uri);
  if (!parsed) return std::unexpected(parsed.error());
  auto factory = Registry().Find(parsed->scheme);
  if (!factory) return std::unexpected(factory.error());
  return (*factory)(parsed->rest);
}

}  // namespace falaj::security
