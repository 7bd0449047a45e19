// The server's key material, loaded (and on first start created) from the data directory or
// the configured locations: the Ed25519 keys that sign audit checkpoints and model manifests,
// and the key-encryption keys (KEKs) that wrap each project's data key.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/result.h"
#include "security/key_provider.h"
#include "security/signing_key.h"

namespace falaj::api {

struct KeyMaterial {
  std::unique_ptr<security::SigningKey> audit_signing;
  std::unique_ptr<security::SigningKey> model_signing;
  std::unique_ptr<security::KeyEncryptionKeyProvider> kek;
};

// Key files are created with mode 0600 and refused if group or others may read them.
Result<KeyMaterial> LoadKeyMaterial(const Config& config);

}  // namespace falaj::api
