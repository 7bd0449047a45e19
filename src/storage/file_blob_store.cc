#include "storage/file_blob_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "common/encoding.h"
#include "common/random.h"
#include "storage/storage_uri.h"

namespace falaj::storage {
namespace {

constexpr int kDigestLength = 64;

std::unexpected<Error> OsFailure(int err, std::string_view action, std::string_view path) {
  // A full disk or quota is the operator's to fix, not a bug; callers may retry after cleanup.
  ErrorCode code =
      (err == ENOSPC || err == EDQUOT) ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  return MakeError(code, "cannot {} '{}': {}", action, path, std::generic_category().message(err));
}

// Runs before any path is built from `digest`, so "../" and the like never reach the filesystem.
Status ValidateDigest(std::string_view digest) {
  auto is_lower_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (digest.size() != kDigestLength || !std::all_of(digest.begin(), digest.end(), is_lower_hex)) {
    // Capped because the digest may come straight from a request.
    return MakeError(ErrorCode::kInvalidArgument,
                     "'{}' is not a blob digest: expected 64 lowercase hex characters",
                     digest.substr(0, 2 * kDigestLength));
  }
  return Ok();
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }

  int get() const { return fd_; }
  // Hands the descriptor to the caller, who must close it.
  int Release() { return std::exchange(fd_, -1); }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_;
};

Status Fsync(int fd, std::string_view path) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return OsFailure(errno, "fsync", path);
  }
  return Ok();
}

// Makes renames and creations inside `dir` survive a crash.
Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return OsFailure(errno, "open directory", dir);
  return Fsync(fd.get(), dir);
}

// Creates `dir` unless it exists; reports whether it was created.
Result<bool> MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return true;
  if (errno == EEXIST) return false;
  return OsFailure(errno, "create directory", dir);
}

Result<bool> PathExists(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return OsFailure(errno, "stat", path);
}

class FileBlobWriter final : public BlobWriter {
 public:
  FileBlobWriter(std::string root, UniqueFd fd, std::string temp_path)
      : root_(std::move(root)), fd_(std::move(fd)), temp_path_(std::move(temp_path)) {}

  ~FileBlobWriter() override {
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  }

  Status Write(std::string_view chunk) override {
    FALAJ_RETURN_IF_ERROR(CheckUsable());
    hash_.Update(chunk);
    while (!chunk.empty()) {
      ssize_t written = ::write(fd_.get(), chunk.data(), chunk.size());
      if (written < 0) {
        if (errno == EINTR) continue;
        usable_ = false;
        return OsFailure(errno, "write", temp_path_);
      }
      chunk.remove_prefix(static_cast<size_t>(written));
    }
    return Ok();
  }

  Result<std::string> Commit() override {
    FALAJ_RETURN_IF_ERROR(CheckUsable());
    // Whatever happens below, the writer is spent; the destructor removes a leftover temp file.
    usable_ = false;
    std::string digest = hash_.FinishHex();
    std::string dir = fmt::format("{}/sha256/{}", root_, std::string_view(digest).substr(0, 2));
    std::string path = fmt::format("{}/{}", dir, std::string_view(digest).substr(2));

    // Content addressing makes an existing blob identical to ours, so skip the costly fsync.
    auto exists = PathExists(path);
    if (!exists) return std::unexpected<Error>(std::move(exists).error());
    if (*exists) {
      fd_ = UniqueFd(-1);
      ::unlink(std::exchange(temp_path_, std::string()).c_str());
      return digest;
    }

    FALAJ_RETURN_IF_ERROR(Fsync(fd_.get(), temp_path_));
    // close() is where some filesystems (NFS) report deferred write errors.
    if (::close(fd_.Release()) != 0 && errno != EINTR) {
      return OsFailure(errno, "close", temp_path_);
    }
    auto created = MakeDir(dir);
    if (!created) return std::unexpected<Error>(std::move(created).error());
    if (*created) FALAJ_RETURN_IF_ERROR(FsyncDir(fmt::format("{}/sha256", root_)));
    // A concurrent writer of the same content may win the race; rename then atomically replaces
    // its file with identical bytes, which readers holding the old one never notice.
    if (::rename(temp_path_.c_str(), path.c_str()) != 0) {
      return OsFailure(errno, "rename into place", path);
    }
    temp_path_.clear();
    FALAJ_RETURN_IF_ERROR(FsyncDir(dir));
    return digest;
  }

 private:
  Status CheckUsable() const {
    if (usable_) return Ok();
    return MakeError(ErrorCode::kFailedPrecondition,
                     "blob writer was already committed or failed; start a new one");
  }

  const std::string root_;
  UniqueFd fd_;
  std::string temp_path_;  // empty once nothing is left to clean up
  Sha256 hash_;
  bool usable_ = true;
};

class FileBlobReader final : public BlobReader {
 public:
  FileBlobReader(UniqueFd fd, uint64_t size, std::string digest, std::string path)
      : fd_(std::move(fd)), size_(size), digest_(std::move(digest)), path_(std::move(path)) {}

  Result<size_t> Read(char* buffer, size_t capacity) override {
    if (corruption_) return std::unexpected<Error>(*corruption_);
    if (verified_) return 0;
    // 0 means "verified end", so an empty buffer could only ever produce a misleading answer.
    if (capacity == 0) {
      return MakeError(ErrorCode::kInvalidArgument, "blob read needs a non-empty buffer");
    }
    ssize_t count;
    while ((count = ::read(fd_.get(), buffer, capacity)) < 0) {
      if (errno != EINTR) return OsFailure(errno, "read", path_);
    }
    if (count > 0) {
      hash_.Update(std::string_view(buffer, static_cast<size_t>(count)));
      return static_cast<size_t>(count);
    }
    std::string actual = hash_.FinishHex();
    if (actual != digest_) {
      corruption_ = Error{ErrorCode::kDataLoss,
                          fmt::format("blob {} is corrupt: content hashes to {}", digest_, actual)};
      return std::unexpected<Error>(*corruption_);
    }
    verified_ = true;
    return 0;
  }

  uint64_t size() const override { return size_; }

 private:
  UniqueFd fd_;
  const uint64_t size_;
  const std::string digest_;
  const std::string path_;
  Sha256 hash_;
  bool verified_ = false;
  std::optional<Error> corruption_;
};

class FileBlobStore final : public BlobStore {
 public:
  explicit FileBlobStore(std::string root) : root_(std::move(root)) {}

  Result<std::unique_ptr<BlobWriter>> NewWriter() override {
    // 128 random bits never collide in practice; O_EXCL guarantees we never share a file anyway.
    std::string temp_path = fmt::format("{}/tmp/{}", root_, RandomHex(16));
    UniqueFd fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return OsFailure(errno, "create", temp_path);
    return std::make_unique<FileBlobWriter>(root_, std::move(fd), std::move(temp_path));
  }

  Result<std::unique_ptr<BlobReader>> Open(std::string_view digest) override {
    FALAJ_RETURN_IF_ERROR(ValidateDigest(digest));
    std::string path = BlobPath(digest);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) {
        return MakeError(ErrorCode::kNotFound, "blob {} not found in '{}'", digest, root_);
      }
      return OsFailure(errno, "open", path);
    }
    struct stat info;
    if (::fstat(fd.get(), &info) != 0) return OsFailure(errno, "stat", path);
    return std::make_unique<FileBlobReader>(std::move(fd), static_cast<uint64_t>(info.st_size),
                                            std::string(digest), std::move(path));
  }

  Result<bool> Exists(std::string_view digest) override {
    FALAJ_RETURN_IF_ERROR(ValidateDigest(digest));
    return PathExists(BlobPath(digest));
  }

  Status Delete(std::string_view digest) override {
    FALAJ_RETURN_IF_ERROR(ValidateDigest(digest));
    std::string path = BlobPath(digest);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return OsFailure(errno, "delete", path);
    return Ok();
  }

 private:
  std::string BlobPath(std::string_view digest) const {
    return fmt::format("{}/sha256/{}/{}", root_, digest.substr(0, 2), digest.substr(2));
  }

  const std::string root_;
};

}  // namespace

Result<std::unique_ptr<BlobStore>> OpenFileBlobStore(std::string_view uri) {
  auto parsed = ParseStorageUri(uri);
  if (!parsed) return std::unexpected<Error>(std::move(parsed).error());
  if (parsed->scheme != "file") {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' is not a file:// URI", uri);
  }
  std::error_code ec;
  std::filesystem::path root = std::filesystem::absolute(parsed->rest, ec).lexically_normal();
  if (ec) return OsFailure(ec.value(), "resolve", parsed->rest);
  if (!root.has_filename() && root.has_relative_path()) root = root.parent_path();
  std::filesystem::create_directories(root, ec);
  if (ec) return OsFailure(ec.value(), "create directory", root.native());

  std::string root_path = root.native();
  for (const char* subdir : {"tmp", "sha256"}) {
    auto created = MakeDir(fmt::format("{}/{}", root_path, subdir));
    if (!created) return std::unexpected<Error>(std::move(created).error());
  }
  return std::make_unique<FileBlobStore>(std::move(root_path));
}

}  // namespace falaj::storage
