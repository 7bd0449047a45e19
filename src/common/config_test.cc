#include "common/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace falaj {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string WriteFile(const std::string& content) {
    path_ = std::filesystem::temp_directory_path() /
            ("falaj_config_test_" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(path_) << content;
    return path_.string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_;
};

TEST_F(ConfigTest, DefaultsAreValid) {
  auto config = LoadConfig({});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server.listen, "127.0.0.1:8080");
  EXPECT_EQ(config->server.body_limit_bytes, 64 << 20);
  EXPECT_EQ(config->EffectiveMetadataUri(), "sqlite://./data/falaj.db");
  EXPECT_EQ(config->EffectiveBlobUri(), "file://./data/blobs");
}

TEST_F(ConfigTest, FileThenEnvironmentThenFlags) {
  ConfigSources sources;
  sources.file = WriteFile(
      "server:\n  listen: 0.0.0.0:9000\n  worker_threads: 3\n  tls:\n    cert_file: c\n"
      "    key_file: k\nprojects:\n  regions: [uae-north, uae-central]\nlog:\n  level: debug\n");
  sources.env = {{"FALAJ_WORKER_THREADS", "5"}, {"FALAJ_REGIONS", "eu-west, uae-north"}};
  sources.overrides = {{"server.listen", "127.0.0.1:1234"}};
  auto config = LoadConfig(sources);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server.listen, "127.0.0.1:1234");
  EXPECT_EQ(config->server.worker_threads, 5);
  EXPECT_EQ(config->server.tls.cert_file, "c");
  EXPECT_EQ(config->projects.regions, (std::vector<std::string>{"eu-west", "uae-north"}));
  EXPECT_EQ(config->log_level, "debug");
}

TEST_F(ConfigTest, JobSettingsAndBooleans) {
  EXPECT_FALSE(LoadConfig({})->jobs.commands_enabled);  // running programs is opt-in
  ConfigSources sources;
  sources.file = WriteFile("jobs:\n  commands_enabled: true\n  workers: 4\n");
  auto config = LoadConfig(sources);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->jobs.commands_enabled);
  EXPECT_EQ(config->jobs.workers, 4);
  EXPECT_NE(RenderConfigYaml(*config).find("commands_enabled: true"), std::string::npos);
  sources.env = {{"FALAJ_JOBS_COMMANDS_ENABLED", "yes please"}};
  auto refused = LoadConfig(sources);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("expects true or false"), std::string::npos);
  sources.env = {{"FALAJ_JOBS_WORKERS", "0"}};
  EXPECT_NE(LoadConfig(sources).error().message.find("jobs.workers"), std::string::npos);
}

TEST_F(ConfigTest, UnknownKeyNamesKeyAndFile) {
  ConfigSources sources;
  sources.file = WriteFile("server:\n  lisen: 1.2.3.4:5\n");
  auto config = LoadConfig(sources);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("unknown configuration key 'server.lisen'"),
            std::string::npos);
  EXPECT_NE(config.error().message.find(sources.file), std::string::npos);

  sources.file = WriteFile("nonsense: 1\n");
  EXPECT_NE(LoadConfig(sources).error().message.find("'nonsense'"), std::string::npos);
}

TEST_F(ConfigTest, WrongTypesAreRefused) {
  ConfigSources sources;
  sources.file = WriteFile("server:\n  worker_threads: many\n");
  auto config = LoadConfig(sources);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("'server.worker_threads' expects an integer, got 'many'"),
            std::string::npos);

  sources.file = WriteFile("server:\n  listen: [a, b]\n");
  EXPECT_NE(LoadConfig(sources).error().message.find("expects a single value"), std::string::npos);
  sources.file = WriteFile("projects:\n  regions: uae-north\n");
  EXPECT_NE(LoadConfig(sources).error().message.find("expects a list"), std::string::npos);
  sources.file = WriteFile("server: [1, 2]\n");
  EXPECT_FALSE(LoadConfig(sources));
  sources.file = WriteFile("server: {listen: x\n");
  EXPECT_NE(LoadConfig(sources).error().message.find("invalid YAML"), std::string::npos);

  ConfigSources env_only;
  env_only.env = {{"FALAJ_BODY_LIMIT_BYTES", "12abc"}};
  auto from_env = LoadConfig(env_only);
  ASSERT_FALSE(from_env);
  EXPECT_NE(from_env.error().message.find("FALAJ_BODY_LIMIT_BYTES"), std::string::npos);
}

TEST_F(ConfigTest, CrossFieldRules) {
  for (auto override :
       std::vector<std::pair<std::string, std::string>>{{"server.tls.cert_file", "only-cert"},
                                                        {"server.body_limit_bytes", "0"},
                                                        {"server.listen", "no-port"},
                                                        {"server.listen", "1.2.3.4:70000"},
                                                        {"log.level", "loud"},
                                                        {"projects.regions", ""}}) {
    ConfigSources sources;
    sources.overrides = {override};
    EXPECT_FALSE(LoadConfig(sources)) << override.first << "=" << override.second;
  }
  ConfigSources unknown;
  unknown.overrides = {{"server.nope", "1"}};
  EXPECT_NE(LoadConfig(unknown).error().message.find("'server.nope'"), std::string::npos);
}

TEST_F(ConfigTest, SecurityAndRegionRulesNameTheKey) {
  const std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, std::string>>
      cases = {
          {{{"server.tls.client_auth", "maybe"}}, "'server.tls.client_auth' must be none"},
          {{{"server.tls.cert_file", "c"},
            {"server.tls.key_file", "k"},
            {"server.tls.client_auth", "required"}},
           "'server.tls.client_ca_file'"},
          {{{"server.tls.client_auth", "optional"}, {"server.tls.client_ca_file", "ca"}},
           "server's own certificate"},
          {{{"server.tls.client_ca_file", "ca"}}, "'server.tls.client_ca_file'"},
          {{{"security.oidc.jwks_file", "f"}, {"security.oidc.jwks_uri", "https://idp/jwks"}},
           "alternatives"},
          {{{"security.oidc.jwks_timeout_seconds", "61"}}, "jwks_timeout_seconds"},
          {{{"security.oidc.jwks_refresh_cooldown_seconds", "0"}}, "jwks_refresh_cooldown"},
          {{{"server.region", "mars"}}, "'server.region' ('mars')"},
          {{{"retention.interval_seconds", "-1"}}, "'retention.interval_seconds'"},
      };
  for (const auto& [overrides, needle] : cases) {
    ConfigSources sources;
    sources.overrides = overrides;
    auto loaded = LoadConfig(sources);
    ASSERT_FALSE(loaded) << needle;
    EXPECT_NE(loaded.error().message.find(needle), std::string::npos) << loaded.error().message;
  }
  ConfigSources node;
  node.overrides = {{"storage.region", "uae-north"}};
  EXPECT_EQ(LoadConfig(node)->EffectiveNodeRegion(), "uae-north");
  node.overrides.emplace_back("server.region", "eu-west");
  EXPECT_EQ(LoadConfig(node)->EffectiveNodeRegion(), "eu-west");
}

TEST_F(ConfigTest, PrintRedactsSecrets) {
  ConfigSources sources;
  sources.env = {{"FALAJ_BOOTSTRAP_ADMIN_KEY", "super-secret-key-value-123456"},
                 {"FALAJ_METADATA_URI", "postgresql://user:pw@db/falaj"}};
  auto config = LoadConfig(sources);
  ASSERT_TRUE(config);
  std::string printed = RenderConfigYaml(*config);
  EXPECT_EQ(printed.find("super-secret"), std::string::npos);
  EXPECT_EQ(printed.find("user:pw"), std::string::npos);
  EXPECT_NE(printed.find("bootstrap_admin_key: <redacted>"), std::string::npos);
  EXPECT_NE(printed.find("listen: 127.0.0.1:8080"), std::string::npos);
  EXPECT_NE(printed.find("cert_file"), std::string::npos);
}

TEST_F(ConfigTest, EveryKeyIsDocumented) {
  std::ifstream file(std::string(FALAJ_SOURCE_DIR) + "/docs/configuration.md");
  std::string docs((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(docs.empty());
  for (const auto& key : ConfigKeys()) {
    EXPECT_NE(docs.find("`" + std::string(key.key) + "`"), std::string::npos) << key.key;
    EXPECT_NE(docs.find("`" + std::string(key.env) + "`"), std::string::npos) << key.env;
  }
}

TEST(ListenAddressTest, ParsesHostsAndPorts) {
  EXPECT_EQ(*ParseListenAddress("127.0.0.1:0"),
            std::make_pair(std::string("127.0.0.1"), uint16_t{0}));
  EXPECT_EQ(ParseListenAddress("[::1]:8080")->first, "::1");
  EXPECT_FALSE(ParseListenAddress(":80"));
  EXPECT_FALSE(ParseListenAddress("host:"));
  EXPECT_FALSE(ParseListenAddress("host:-1"));
}

}  // namespace
}  // namespace falaj

namespace falaj {
namespace {

TEST_F(ConfigTest, PrintedConfigurationLoadsBack) {
  auto defaults = LoadConfig({});
  ASSERT_TRUE(defaults);
  ConfigSources sources;
  sources.file = WriteFile(RenderConfigYaml(*defaults));
  auto reloaded = LoadConfig(sources);
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_EQ(RenderConfigYaml(*reloaded), RenderConfigYaml(*defaults));
  sources.file = WriteFile("server:\n  listen:\n");
  EXPECT_NE(LoadConfig(sources).error().message.find("'server.listen' has no value"),
            std::string::npos);
}

}  // namespace
}  // namespace falaj
