#include "security/signing_key.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/encoding.h"
#include "common/random.h"
#include "security/openssl_ptr.h"

namespace falaj::security {
namespace {

constexpr size_t kMaxKeyFileBytes = 64 * 1024;

using PkeyPtr = EvpPkeyPtr;
using MdCtxPtr = EvpMdCtxPtr;
using BioPtr = OpenSslPtr<BIO, BIO_free_all>;

// Drains OpenSSL's thread-local error queue into one line, so a stale error never leaks into a
// later, unrelated message.
std::string OpensslError() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

// Refuses to prompt on a terminal for the passphrase of an encrypted PEM.
int NoPassphrase(char*, int, int, void*) { return 0; }

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

std::string RawPublicKey(EVP_PKEY* key) {
  unsigned char raw[SigningKey::kPublicKeySize];
  size_t size = sizeof(raw);
  // Cannot fail for a key we already checked is Ed25519.
  if (EVP_PKEY_get_raw_public_key(key, raw, &size) != 1 || size != sizeof(raw)) std::abort();
  return std::string(reinterpret_cast<const char*>(raw), size);
}

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return MakeError(ErrorCode::kInternal, "write: {}", std::strerror(errno));
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return Ok();
}

Status SyncDirectory(const std::filesystem::path& directory) {
  int fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "open directory: {}", std::strerror(errno));
  int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) return MakeError(ErrorCode::kInternal, "fsync: {}", std::strerror(errno));
  return Ok();
}

// Writes `contents` to a new file at `path` with mode 0600. Publishing uses link(), which fails
// rather than replace a file that appeared meanwhile: then the result is false and the caller
// loads the other writer's key instead.
Result<bool> PublishNewFile(const std::string& path, std::string_view contents) {
  std::filesystem::path target(path);
  std::filesystem::path parent = target.parent_path();
  std::error_code error;
  if (!parent.empty() && !std::filesystem::exists(parent, error)) {
    std::filesystem::create_directories(parent, error);
    if (!error) {
      std::filesystem::permissions(parent, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, error);
    }
    if (error) {
      return MakeError(ErrorCode::kInternal, "cannot create directory '{}': {}", parent.string(),
                       error.message());
    }
  }
  std::string temporary = path + ".tmp-" + RandomHex(8);
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return MakeError(ErrorCode::kInternal, "cannot create '{}': {}", temporary,
                     std::strerror(errno));
  }
  Status written = WriteAll(fd, contents);
  if (written && (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0)) {
    written = MakeError(ErrorCode::kInternal, "{}", std::strerror(errno));
  }
  ::close(fd);
  bool published = false;
  if (written) {
    if (::link(temporary.c_str(), path.c_str()) == 0) {
      published = true;
    } else if (errno != EEXIST) {
      written = MakeError(ErrorCode::kInternal, "link: {}", std::strerror(errno));
    }
  }
  ::unlink(temporary.c_str());
  if (!written) {
    return MakeError(ErrorCode::kInternal, "cannot write signing key '{}': {}", path,
                     written.error().message);
  }
  if (published) FALAJ_RETURN_IF_ERROR(SyncDirectory(parent));
  return published;
}

Result<std::string> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ErrorCode code = errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal;
    return MakeError(code, "cannot open signing key '{}': {}", path, std::strerror(errno));
  }
  struct stat info {};
  std::string contents;
  Status status = Ok();
  if (::fstat(fd, &info) != 0) {
    status = MakeError(ErrorCode::kInternal, "cannot stat signing key '{}': {}", path,
                       std::strerror(errno));
  } else if (!S_ISREG(info.st_mode)) {
    status = MakeError(ErrorCode::kInvalidArgument, "signing key '{}' is not a regular file", path);
  } else if ((info.st_mode & 0077) != 0) {
    status = MakeError(ErrorCode::kFailedPrecondition,
                       "signing key '{}' is accessible by group or others (mode {:04o}); "
                       "run chmod 600 on it",
                       path, info.st_mode & 07777);
  } else if (static_cast<size_t>(info.st_size) > kMaxKeyFileBytes) {
    status = MakeError(ErrorCode::kInvalidArgument, "signing key '{}' is too large", path);
  } else {
    contents.resize(static_cast<size_t>(info.st_size));
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t got = ::read(fd, contents.data() + done, contents.size() - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      done += static_cast<size_t>(got);
    }
    contents.resize(done);
  }
  ::close(fd);
  if (!status) return std::unexpected(status.error());
  return contents;
}

bool IsHex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

std::string HexToBytes(std::string_view hex) {
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>((nibble(hex[i]) << 4) | nibble(hex[i + 1])));
  }
  return out;
}

}  // namespace

struct SigningKey::State {
  PkeyPtr key;
};

SigningKey::SigningKey(std::unique_ptr<State> state)
    : state_(std::move(state)),
      public_key_raw_(RawPublicKey(state_->key.get())),
      key_id_(Ed25519KeyId(public_key_raw_)) {}

SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::Generate() {
  ERR_clear_error();
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) {
    return MakeError(ErrorCode::kInternal, "cannot generate Ed25519 key: {}", OpensslError());
  }
  auto state = std::make_unique<State>();
  state->key.reset(raw);
  return SigningKey(std::move(state));
}

Result<SigningKey> SigningKey::Load(const std::string& path) {
  auto contents = ReadKeyFile(path);
  if (!contents) return std::unexpected(contents.error());
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(contents->data(), static_cast<int>(contents->size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!key) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "signing key '{}' is not an unencrypted PEM private key: {}", path,
                     OpensslError());
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return MakeError(ErrorCode::kInvalidArgument, "signing key '{}' is not an Ed25519 key", path);
  }
  auto state = std::make_unique<State>();
  state->key = std::move(key);
  return SigningKey(std::move(state));
}

Result<SigningKey> SigningKey::LoadOrCreate(const std::string& path) {
  auto loaded = Load(path);
  if (loaded || loaded.error().code != ErrorCode::kNotFound) return loaded;
  auto generated = Generate();
  if (!generated) return generated;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), generated->state_->key.get(), nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return MakeError(ErrorCode::kInternal, "cannot encode signing key: {}", OpensslError());
  }
  std::string pem = BioContents(bio.get());
  auto published = PublishNewFile(path, pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!published) return std::unexpected(published.error());
  if (!*published) return Load(path);
  return generated;
}

std::string SigningKey::Sign(std::string_view message) const {
  MdCtxPtr context(EVP_MD_CTX_new());
  unsigned char signature[kSignatureSize];
  size_t size = sizeof(signature);
  // With a valid Ed25519 key these fail only when memory runs out, like the digests elsewhere.
  if (!context ||
      EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, state_->key.get()) != 1 ||
      EVP_DigestSign(context.get(), signature, &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      size != sizeof(signature)) {
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(signature), size);
}

std::string SigningKey::PublicKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), state_->key.get()) != 1) std::abort();
  return BioContents(bio.get());
}

bool VerifyEd25519(std::string_view public_key_raw, std::string_view message,
                   std::string_view signature) {
  if (public_key_raw.size() != SigningKey::kPublicKeySize ||
      signature.size() != SigningKey::kSignatureSize) {
    return false;
  }
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key_raw.data()),
      public_key_raw.size()));
  MdCtxPtr context(EVP_MD_CTX_new());
  bool valid =
      key && context &&
      EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  ERR_clear_error();
  return valid;
}

Result<std::string> ParseEd25519PublicKey(std::string_view text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  size_t last = text.find_last_not_of(" \t\r\n");
  std::string_view trimmed =
      first == std::string_view::npos ? std::string_view() : text.substr(first, last - first + 1);
  if (trimmed.size() == 2 * SigningKey::kPublicKeySize && IsHex(trimmed)) {
    return HexToBytes(trimmed);
  }
  if (trimmed.starts_with("-----BEGIN PUBLIC KEY-----")) {
    ERR_clear_error();
    BioPtr bio(BIO_new_mem_buf(trimmed.data(), static_cast<int>(trimmed.size())));
    PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
    ERR_clear_error();
    if (key && EVP_PKEY_get_id(key.get()) == EVP_PKEY_ED25519) return RawPublicKey(key.get());
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "expected an Ed25519 public key as 64 hex characters or a PEM public key");
}

std::string Ed25519KeyId(std::string_view public_key_raw) {
  return Sha256Hex(public_key_raw).substr(0, 16);
}

}  // namespace falaj::security
