#include "security/aead.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace falaj::security {
namespace {

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string Pattern(size_t size, unsigned seed) {
  std::mt19937 engine(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(engine());
  return bytes;
}

struct GcmVector {
  const char* source;
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

// Valid AES-256-GCM vectors with 96-bit nonces and 128-bit tags, copied by hand from:
//  - Wycheproof, C2SP/wycheproof testvectors_v1/aes_gcm_test.json (group ivSize 96, keySize 256),
//    identified by tcId;
//  - McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test case 16 (also in the
//    NIST GCM submission), with associated data and a partial final block.
const GcmVector kValid[] = {
    {"wycheproof tcId 91", "92ace3e348cd821092cd921aa3546374299ab46209691bc28b8752d17f123c20",
     "00112233445566778899aabb", "00000000ffffffff", "00010203040506070809", "e27abdd2d2a53d2f136b",
     "9a4a2579529301bcfb71c78d4060f52c"},
    {"wycheproof tcId 92", "29d3a44f8723dc640239100c365423a312934ac80239212ac3df3421a2098123",
     "00112233445566778899aabb", "aabbccddeeff", "", "", "2a7d77fa526b8250cb296078926b5020"},
    {"wycheproof tcId 101", "cdccfe3f46d782ef47df4e72f0c02d9c7f774def970d23486f11a57f54247f17",
     "376187894605a8d45e30de51", "956846a209e087ed", "e28e0e9f9d22463ac0e42639b530f42102fded75",
     "feca44952447015b5df1f456df8ca4bb4eee2ce2", "082e91924deeb77880e1b1c84f9b8d30"},
    {"wycheproof tcId 128", "00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f",
     "000000000000000000000000", "", "561008fa07a68f5c61285cd013464eaf",
     "23293e9b07ca7d1b0cae7cc489a973b3", "ffffffffffffffffffffffffffffffff"},
    {"wycheproof tcId 129", "00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f",
     "ffffffffffffffffffffffff", "", "c6152244cea1978d3e0bc274cf8c0b3b",
     "7cb6fc7c6abc009efe9551a99f36a421", "00000000000000000000000000000000"},
    {"McGrew-Viega GCM test case 16",
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcmTest, KnownAnswerVectorsSealAndOpen) {
  for (const GcmVector& v : kValid) {
    SCOPED_TRACE(v.source);
    std::string expected = Unhex(v.ciphertext) + Unhex(v.tag);
    auto sealed =
        AesGcmSealWithNonce(Unhex(v.key), Unhex(v.nonce), Unhex(v.plaintext), Unhex(v.aad));
    ASSERT_TRUE(sealed) << sealed.error().message;
    EXPECT_EQ(*sealed, expected);
    auto opened = AesGcmOpenWithNonce(Unhex(v.key), Unhex(v.nonce), expected, Unhex(v.aad));
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(*opened, Unhex(v.plaintext));
  }
}

// Wycheproof testvectors_v1/aes_gcm_test.json tcIds 130 (bit 0), 131 (bit 1), 138 (bit 64):
// valid ciphertext, modified tag, "result": "invalid". The correct tag is
// 9ce8fef6d8ab1bf1bf887232eab590dd.
TEST(AesGcmTest, ModifiedTagIsRejectedAsDataLoss) {
  const std::string key = Unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const std::string nonce = Unhex("505152535455565758595a5b");
  const std::string ciphertext = Unhex("b2061457c0759fc1749f174ee1ccadfa");
  ASSERT_TRUE(
      AesGcmOpenWithNonce(key, nonce, ciphertext + Unhex("9ce8fef6d8ab1bf1bf887232eab590dd"), ""));
  for (const char* tag : {"9de8fef6d8ab1bf1bf887232eab590dd", "9ee8fef6d8ab1bf1bf887232eab590dd",
                          "9ce8fef6d8ab1bf1be887232eab590dd", "00000000000000000000000000000000"}) {
    SCOPED_TRACE(tag);
    auto opened = AesGcmOpenWithNonce(key, nonce, ciphertext + Unhex(tag), "");
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kDataLoss);
    EXPECT_EQ(opened.error().message, "ciphertext failed authentication");
  }
}

// RFC 5869 appendix A.1 (HKDF-SHA256 basic test case).
TEST(HkdfTest, Rfc5869TestCase1) {
  auto okm = HkdfSha256(Unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                        Unhex("000102030405060708090a0b0c"), Unhex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm);
  EXPECT_EQ(*okm, Unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                        "34007208d5b887185865"));
}

TEST(AeadTest, SealOpenRoundTripWithFreshNonces) {
  std::string key = NewAeadKey();
  ASSERT_EQ(key.size(), kAeadKeySize);
  auto first = AeadSeal(key, "hello", "ctx");
  auto second = AeadSeal(key, "hello", "ctx");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->size(), kAeadNonceSize + 5 + kAeadTagSize);
  EXPECT_NE(first->substr(0, kAeadNonceSize), second->substr(0, kAeadNonceSize));
  EXPECT_EQ(*AeadOpen(key, *first, "ctx"), "hello");
  EXPECT_EQ(*AeadOpen(key, *second, "ctx"), "hello");
}

TEST(AeadTest, EveryFlippedBitAndWrongContextFails) {
  std::string key = NewAeadKey();
  auto sealed = AeadSeal(key, "attack at dawn", "project=a");
  ASSERT_TRUE(sealed);
  for (size_t bit = 0; bit < sealed->size() * 8; ++bit) {
    std::string tampered = *sealed;
    tampered[bit / 8] = static_cast<char>(tampered[bit / 8] ^ (1 << (bit % 8)));
    auto opened = AeadOpen(key, tampered, "project=a");
    ASSERT_FALSE(opened) << "bit " << bit;
    EXPECT_EQ(opened.error().code, ErrorCode::kDataLoss);
  }
  EXPECT_EQ(AeadOpen(key, *sealed, "project=b").error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(AeadOpen(NewAeadKey(), *sealed, "project=a").error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(AeadOpen(key, sealed->substr(0, 27), "project=a").error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(AeadOpen(key, "", "").error().code, ErrorCode::kDataLoss);
}

TEST(AeadTest, RejectsBadKeyAndNonceSizes) {
  EXPECT_EQ(AeadSeal("short", "x", "").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(AeadOpen(std::string(16, 'k'), std::string(40, 'x'), "").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(AesGcmSealWithNonce(NewAeadKey(), "12345678", "x", "").error().code,
            ErrorCode::kInvalidArgument);
}

// --- STREAM ---------------------------------------------------------------------------------

constexpr size_t kSegment = kStreamMinSegmentSize;
constexpr size_t kSealedSegment = kSegment + kAeadTagSize;

std::string SealStream(std::string_view key, std::string_view plaintext, std::string_view aad,
                       size_t piece = 100, size_t segment = kSegment) {
  auto sealer = StreamSealer::Create(key, aad, segment);
  EXPECT_TRUE(sealer);
  std::string out;
  for (size_t offset = 0; offset < plaintext.size(); offset += piece) {
    EXPECT_TRUE((*sealer)->Update(plaintext.substr(offset, piece), &out));
  }
  EXPECT_TRUE((*sealer)->Finish(&out));
  return out;
}

Result<std::string> OpenStream(std::string_view key, std::string_view sealed, std::string_view aad,
                               size_t piece = 77) {
  auto opener = StreamOpener::Create(key, aad);
  if (!opener) return std::unexpected(opener.error());
  std::string out;
  for (size_t offset = 0; offset < sealed.size(); offset += piece) {
    FALAJ_RETURN_IF_ERROR((*opener)->Update(sealed.substr(offset, piece), &out));
  }
  FALAJ_RETURN_IF_ERROR((*opener)->Finish(&out));
  return out;
}

TEST(StreamTest, RoundTripsAtEverySegmentBoundary) {
  std::string key = NewAeadKey();
  for (size_t size : {size_t{0}, size_t{1}, kSegment - 1, kSegment, kSegment + 1, 3 * kSegment,
                      3 * kSegment + 17}) {
    SCOPED_TRACE(size);
    std::string plaintext = Pattern(size, static_cast<unsigned>(size));
    std::string sealed = SealStream(key, plaintext, "aad");
    size_t segments = size == 0 ? 1 : (size + kSegment - 1) / kSegment;
    EXPECT_EQ(sealed.size(), kStreamHeaderSize + size + segments * kAeadTagSize);
    for (size_t piece : {size_t{1}, size_t{77}, kSealedSegment, size_t{100000}}) {
      auto opened = OpenStream(key, sealed, "aad", piece);
      ASSERT_TRUE(opened) << opened.error().message;
      EXPECT_EQ(*opened, plaintext);
    }
  }
}

TEST(StreamTest, DefaultSegmentSizeRoundTrip) {
  std::string key = NewAeadKey();
  std::string plaintext = Pattern(3 * kStreamSegmentSize + 5, 7);
  std::string sealed = SealStream(key, plaintext, "", 10000, kStreamSegmentSize);
  EXPECT_EQ(*OpenStream(key, sealed, "", 65536), plaintext);
}

TEST(StreamTest, TruncationReorderingAndExtensionAreDetected) {
  std::string key = NewAeadKey();
  std::string plaintext = Pattern(4 * kSegment + 10, 1);  // segments 0..3 full, 4 is last
  std::string sealed = SealStream(key, plaintext, "aad");
  auto segment = [&](size_t i) {
    return sealed.substr(kStreamHeaderSize + i * kSealedSegment, kSealedSegment);
  };
  std::string header = sealed.substr(0, kStreamHeaderSize);
  std::string last = sealed.substr(kStreamHeaderSize + 4 * kSealedSegment);

  std::vector<std::pair<std::string, std::string>> attacks = {
      {"drop last segment", sealed.substr(0, kStreamHeaderSize + 4 * kSealedSegment)},
      {"cut inside last segment", sealed.substr(0, sealed.size() - 1)},
      {"cut inside a middle segment", sealed.substr(0, kStreamHeaderSize + 2 * kSealedSegment + 9)},
      {"header only", header},
      {"partial header", header.substr(0, 20)},
      {"swap segments 1 and 2", header + segment(0) + segment(2) + segment(1) + segment(3) + last},
      {"drop middle segment", header + segment(0) + segment(2) + segment(3) + last},
      {"duplicate a segment",
       header + segment(0) + segment(0) + segment(1) + segment(2) + segment(3) + last},
      {"append bytes", sealed + "x"},
      {"append a copy of the last segment", sealed + last},
      {"append a segment", sealed + segment(1)},
  };
  for (const auto& [name, tampered] : attacks) {
    SCOPED_TRACE(name);
    auto opened = OpenStream(key, tampered, "aad");
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kDataLoss);
  }
  EXPECT_EQ(*OpenStream(key, sealed, "aad"), plaintext);
}

TEST(StreamTest, SegmentsFromAnotherStreamOrContextAreRejected) {
  std::string key = NewAeadKey();
  std::string plaintext = Pattern(2 * kSegment + 3, 2);
  std::string a = SealStream(key, plaintext, "aad");
  std::string b = SealStream(key, plaintext, "aad");
  ASSERT_NE(a, b);  // fresh salt and prefix per stream
  std::string spliced = a.substr(0, kStreamHeaderSize) + b.substr(kStreamHeaderSize);
  EXPECT_EQ(OpenStream(key, spliced, "aad").error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(OpenStream(key, a, "other").error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(OpenStream(NewAeadKey(), a, "aad").error().code, ErrorCode::kDataLoss);
}

TEST(StreamTest, EveryFlippedBitFails) {
  std::string key = NewAeadKey();
  std::string sealed = SealStream(key, Pattern(kSegment + 5, 3), "aad");
  for (size_t bit = 0; bit < sealed.size() * 8; bit += 3) {
    std::string tampered = sealed;
    tampered[bit / 8] = static_cast<char>(tampered[bit / 8] ^ (1 << (bit % 8)));
    auto opened = OpenStream(key, tampered, "aad");
    ASSERT_FALSE(opened) << "bit " << bit;
    EXPECT_EQ(opened.error().code, ErrorCode::kDataLoss);
  }
}

TEST(StreamTest, HostileSegmentSizeInHeaderIsRejected) {
  std::string key = NewAeadKey();
  std::string sealed = SealStream(key, "abc", "");
  sealed[0] = '\x7f';  // ~2 GiB segments: refused before anything is buffered
  EXPECT_EQ(OpenStream(key, sealed, "").error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(StreamSealer::Create(key, "", 16).error().code, ErrorCode::kInvalidArgument);
}

TEST(StreamTest, CallsAfterFinishOrFailureAreRefused) {
  std::string key = NewAeadKey();
  auto sealer = StreamSealer::Create(key, "");
  std::string out;
  ASSERT_TRUE((*sealer)->Finish(&out));
  EXPECT_EQ((*sealer)->Update("x", &out).error().code, ErrorCode::kFailedPrecondition);
  auto opener = StreamOpener::Create(key, "");
  std::string plain;
  EXPECT_FALSE((*opener)->Update(std::string(kStreamHeaderSize + 40, '\0'), &plain));
  EXPECT_EQ((*opener)->Finish(&plain).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(plain.empty());
}

}  // namespace
}  // namespace falaj::security
