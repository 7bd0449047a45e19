// The gRPC transport end to end in one process: a real GrpcServer on an ephemeral port with real
// API keys, role bindings and audit log over a temporary SQLite store, a fake inference service,
// and the generated C++ client stub.
#include "api/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <thread>

#include "grpc_predict_v2.grpc.pb.h"
#include "security/role_bindings.h"

namespace falaj::api {
namespace {

namespace pb = ::inference;

// Serves "fraud.scorer": one input [rows, cols] → outputs "sum" and "max" per row, as float32.
// "fraud.loading" exists but cannot serve; "fraud.slow" blocks until released.
class FakeInference final : public serving::InferenceService {
 public:
  Result<serving::InferResponse> Infer(serving::InferRequest& request) override {
    if (request.project == "fraud" && request.name == "slow") {
      entered_slow.set_value();
      release_slow.get_future().wait();
    } else if (request.project != "fraud" || request.name != "scorer") {
      return MakeError(ErrorCode::kNotFound, "no model '{}'", request.name);
    }
    {
      std::lock_guard lock(mutex);
      last = request;
    }
    if (request.inputs.size() != 1 || request.inputs[0].shape.size() != 2) {
      return MakeError(ErrorCode::kInvalidArgument, "one [rows, cols] input");
    }
    const auto& input = request.inputs[0];
    auto rows = static_cast<size_t>(input.shape[0]), cols = static_cast<size_t>(input.shape[1]);
    serving::InferOutput sum{"sum", serving::DataType::kFp32, {input.shape[0]}, {}};
    serving::InferOutput max{"max", serving::DataType::kFp32, {input.shape[0]}, {}};
    for (size_t row = 0; row < rows; ++row) {
      float total = 0, largest = input.values[row * cols];
      for (size_t col = 0; col < cols; ++col) {
        total += input.values[row * cols + col];
        largest = std::max(largest, input.values[row * cols + col]);
      }
      sum.data.push_back(total);
      max.data.push_back(largest);
    }
    serving::InferResponse response;
    response.id = request.id;
    response.model_name = request.project + "." + request.name;
    response.model_version = std::to_string(request.version.value_or(2));
    response.served_model = request.name;
    for (auto& output : {sum, max}) {
      bool wanted = request.outputs.empty() ||
                    std::find(request.outputs.begin(), request.outputs.end(), output.name) !=
                        request.outputs.end();
      if (wanted) response.outputs.push_back(output);
    }
    return response;
  }
  std::optional<Result<serving::InferResponse>> TryInferWithoutBlocking(
      serving::InferRequest&) override {
    return std::nullopt;
  }
  Result<serving::ModelMetadata> Metadata(std::string_view project, std::string_view name,
                                          std::optional<int64_t>) override {
    if (project != "fraud" || name != "scorer") return MakeError(ErrorCode::kNotFound, "no");
    return serving::ModelMetadata{
        "fraud.scorer", {"2"}, "falaj-fake", {{"x", "FP32", {-1, -1}}}, {{"sum", "FP32", {-1}}}};
  }
  Status Ready(std::string_view project, std::string_view name, std::optional<int64_t>) override {
    if (project == "fraud" && name == "scorer") return Ok();
    if (project == "fraud" && name == "loading") {
      return MakeError(ErrorCode::kUnavailable, "loading");
    }
    return MakeError(ErrorCode::kNotFound, "no model");
  }

  std::mutex mutex;
  serving::InferRequest last;  // guarded by mutex
  std::promise<void> entered_slow, release_slow;
};

std::string RawBytes(const void* data, size_t size) {
  return std::string(static_cast<const char*>(data), size);
}

std::vector<float> RawFloats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// A [rows, cols] FP32 request with typed contents.
pb::ModelInferRequest Fp32Request(const std::vector<std::vector<float>>& rows) {
  pb::ModelInferRequest request;
  request.set_model_name("fraud.scorer");
  auto* input = request.add_inputs();
  input->set_name("x");
  input->set_datatype("FP32");
  input->add_shape(static_cast<int64_t>(rows.size()));
  input->add_shape(static_cast<int64_t>(rows[0].size()));
  for (const auto& row : rows) {
    for (float value : row) input->mutable_contents()->add_fp32_contents(value);
  }
  return request;
}

pb::ModelInferRequest RawRequest(std::string_view datatype, std::vector<int64_t> shape,
                                 std::string bytes) {
  pb::ModelInferRequest request;
  request.set_model_name("fraud.scorer");
  auto* input = request.add_inputs();
  input->set_name("x");
  input->set_datatype(std::string(datatype));
  for (int64_t dim : shape) input->add_shape(dim);
  request.add_raw_input_contents(std::move(bytes));
  return request;
}

class GrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_grpc_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 4);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    for (const auto* migrations :
         {&security::ApiKeyService::Migrations(), &security::AuditLog::Migrations(),
          &security::RoleBindingService::Migrations()}) {
      ASSERT_TRUE(store_->Migrate(*migrations));
    }
    keys_ = std::make_unique<security::ApiKeyService>(*store_);
    bindings_ = std::make_unique<security::RoleBindingService>(*store_);
    authenticator_ = std::make_unique<security::Authenticator>(*keys_);
    authorizer_ = std::make_unique<security::Authorizer>(*bindings_);
    audit_ = std::make_unique<security::AuditLog>(*store_);
    viewer_key_ = NewKey("viewer", "viewer");
    auditor_key_ = NewKey("auditor", "auditor");
    stranger_key_ = NewKey("stranger", "");
    auto server = GrpcServer::Start("127.0.0.1:0", {}, Services(), metrics_);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
    stub_ = pb::GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Stop(std::chrono::seconds(5));
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }

  GrpcServer::Services Services() {
    return {inference_, *authenticator_, *authorizer_, *audit_, RateLimitConfig{0, 0, 0}};
  }

  // A key with `role` in project fraud (none when empty).
  std::string NewKey(const std::string& name, const std::string& role) {
    auto created = keys_->Create({name, false, "", 0, "key:test"});
    EXPECT_TRUE(created) << created.error().message;
    if (!role.empty()) {
      EXPECT_TRUE(bindings_->Set("fraud", created->info.subject(), role));
    }
    return created->plaintext;
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& key) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!key.empty()) context->AddMetadata("authorization", "Bearer " + key);
    return context;
  }

  grpc::Status Infer(const pb::ModelInferRequest& request, pb::ModelInferResponse* response,
                     const std::string& key) {
    return stub_->ModelInfer(Context(key).get(), request, response);
  }
  grpc::StatusCode InferCode(const pb::ModelInferRequest& request) {
    pb::ModelInferResponse response;
    return Infer(request, &response, viewer_key_).error_code();
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<security::ApiKeyService> keys_;
  std::unique_ptr<security::RoleBindingService> bindings_;
  std::unique_ptr<security::Authenticator> authenticator_;
  std::unique_ptr<security::Authorizer> authorizer_;
  std::unique_ptr<security::AuditLog> audit_;
  std::string viewer_key_, auditor_key_, stranger_key_;
  FakeInference inference_;
  metrics::Registry metrics_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<pb::GRPCInferenceService::Stub> stub_;
};

TEST_F(GrpcServerTest, HealthAndServerMetadataArePublic) {
  grpc::ClientContext live_context, ready_context, metadata_context;
  pb::ServerLiveResponse live;
  ASSERT_TRUE(stub_->ServerLive(&live_context, {}, &live).ok());
  EXPECT_TRUE(live.live());
  pb::ServerReadyResponse ready;
  ASSERT_TRUE(stub_->ServerReady(&ready_context, {}, &ready).ok());
  EXPECT_TRUE(ready.ready());
  pb::ServerMetadataResponse metadata;
  ASSERT_TRUE(stub_->ServerMetadata(&metadata_context, {}, &metadata).ok());
  EXPECT_EQ(metadata.name(), "falaj");
  EXPECT_FALSE(metadata.version().empty());
  EXPECT_EQ(metadata.extensions_size(), 0);
  // Every answer carries its request id, for matching the server's log line.
  EXPECT_EQ(metadata_context.GetServerInitialMetadata().count("x-request-id"), 1u);
}

TEST_F(GrpcServerTest, ModelMetadataAndReadiness) {
  pb::ModelMetadataRequest request;
  request.set_name("fraud.scorer");
  pb::ModelMetadataResponse metadata;
  ASSERT_TRUE(stub_->ModelMetadata(Context(auditor_key_).get(), request, &metadata).ok());
  EXPECT_EQ(metadata.name(), "fraud.scorer");
  ASSERT_EQ(metadata.versions_size(), 1);
  EXPECT_EQ(metadata.versions(0), "2");
  EXPECT_EQ(metadata.platform(), "falaj-fake");
  ASSERT_EQ(metadata.inputs_size(), 1);
  EXPECT_EQ(metadata.inputs(0).datatype(), "FP32");
  EXPECT_EQ(metadata.inputs(0).shape_size(), 2);
  EXPECT_EQ(metadata.outputs(0).name(), "sum");

  auto ready = [&](const std::string& name, const std::string& version, bool* answer) {
    pb::ModelReadyRequest ready_request;
    ready_request.set_name(name);
    ready_request.set_version(version);
    pb::ModelReadyResponse response;
    auto status = stub_->ModelReady(Context(viewer_key_).get(), ready_request, &response);
    *answer = response.ready();
    return status.error_code();
  };
  bool answer = false;
  EXPECT_EQ(ready("fraud.scorer", "", &answer), grpc::StatusCode::OK);
  EXPECT_TRUE(answer);
  EXPECT_EQ(ready("fraud.loading", "3", &answer), grpc::StatusCode::OK);
  EXPECT_FALSE(answer);
  EXPECT_EQ(ready("fraud.nope", "", &answer), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ready("fraud.scorer", "abc", &answer), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ready("fraud.scorer", "0", &answer), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ready("scorer", "", &answer), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GrpcServerTest, InfersFromTypedContents) {
  auto request = Fp32Request({{1, 2, 3}, {-4, 5, 0.5}});
  request.set_id("req-7");
  pb::ModelInferResponse response;
  auto status = Infer(request, &response, viewer_key_);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model_name(), "fraud.scorer");
  EXPECT_EQ(response.model_version(), "2");
  EXPECT_EQ(response.id(), "req-7");
  EXPECT_EQ(response.parameters().at("served_model").string_param(), "scorer");
  EXPECT_EQ(response.parameters().count("endpoint"), 0u);
  EXPECT_EQ(response.raw_output_contents_size(), 0);
  ASSERT_EQ(response.outputs_size(), 2);
  const auto& sum = response.outputs(0);
  EXPECT_EQ(sum.name(), "sum");
  EXPECT_EQ(sum.datatype(), "FP32");
  ASSERT_EQ(sum.shape_size(), 1);
  EXPECT_EQ(sum.shape(0), 2);
  EXPECT_EQ(std::vector<float>(sum.contents().fp32_contents().begin(),
                               sum.contents().fp32_contents().end()),
            (std::vector<float>{6, 1.5}));
  std::lock_guard lock(inference_.mutex);
  EXPECT_EQ(inference_.last.project, "fraud");
  EXPECT_EQ(inference_.last.name, "scorer");
  EXPECT_FALSE(inference_.last.version.has_value());
  EXPECT_EQ(inference_.last.inputs[0].datatype, serving::DataType::kFp32);
}

TEST_F(GrpcServerTest, InfersFromRawContentsOfEveryNumericKind) {
  const double fp64[] = {1.5, -2.25, 4, 8};
  const int64_t int64[] = {1, -2, 3, 1000000};
  const uint8_t booleans[] = {1, 0, 0, 1};
  const float fp32[] = {0.5, 0.25, -1, 3};
  // 1.0, -2.0, 0.5, 65504 (the largest half).
  const uint16_t fp16[] = {0x3c00, 0xc000, 0x3800, 0x7bff};
  struct Case {
    std::string_view datatype;
    std::string bytes;
    std::vector<float> sums;
  };
  const Case cases[] = {
      {"FP64", RawBytes(fp64, sizeof fp64), {-0.75, 12}},
      {"INT64", RawBytes(int64, sizeof int64), {-1, 1000003}},
      {"BOOL", RawBytes(booleans, sizeof booleans), {1, 1}},
      {"FP32", RawBytes(fp32, sizeof fp32), {0.75, 2}},
      {"FP16", RawBytes(fp16, sizeof fp16), {-1, 65504.5}},
  };
  for (const Case& kind : cases) {
    SCOPED_TRACE(kind.datatype);
    pb::ModelInferResponse response;
    auto status = Infer(RawRequest(kind.datatype, {2, 2}, kind.bytes), &response, viewer_key_);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.raw_output_contents_size(), 2);
    EXPECT_EQ(response.outputs(0).contents().fp32_contents_size(), 0);
    EXPECT_EQ(RawFloats(response.raw_output_contents(0)), kind.sums);
  }
}

TEST_F(GrpcServerTest, RequestedOutputsAndPinnedVersions) {
  auto request = Fp32Request({{1, 7}});
  request.add_outputs()->set_name("max");
  request.set_model_version("1");
  pb::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response, viewer_key_).ok());
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "max");
  EXPECT_EQ(response.outputs(0).contents().fp32_contents(0), 7);
  EXPECT_EQ(response.model_version(), "1");
  std::lock_guard lock(inference_.mutex);
  EXPECT_EQ(inference_.last.version, std::optional<int64_t>(1));
  EXPECT_EQ(inference_.last.outputs, std::vector<std::string>{"max"});
}

TEST_F(GrpcServerTest, MalformedRequestsGetExactStatusCodes) {
  using Code = grpc::StatusCode;
  const float four[] = {1, 2, 3, 4};
  auto two_raw = RawRequest("FP32", {2, 2}, RawBytes(four, sizeof four));
  two_raw.add_raw_input_contents(RawBytes(four, sizeof four));
  EXPECT_EQ(InferCode(two_raw), Code::INVALID_ARGUMENT);
  EXPECT_EQ(InferCode(RawRequest("FP32", {2, 2}, RawBytes(four, 12))), Code::INVALID_ARGUMENT);
  EXPECT_EQ(InferCode(RawRequest("BYTES", {1, 4}, "abcd")), Code::INVALID_ARGUMENT);
  EXPECT_EQ(InferCode(RawRequest("FP33", {1, 4}, RawBytes(four, 16))), Code::INVALID_ARGUMENT);
  EXPECT_EQ(InferCode(RawRequest("FP32", {1, -4}, RawBytes(four, 16))), Code::INVALID_ARGUMENT);
  // An absurd shape is refused before anything is allocated for it.
  EXPECT_EQ(InferCode(RawRequest("FP32", {int64_t{1} << 40, int64_t{1} << 40}, "")),
            Code::INVALID_ARGUMENT);

  auto typed = Fp32Request({{1, 2}});
  auto bad_version = typed;
  bad_version.set_model_version("v1");
  EXPECT_EQ(InferCode(bad_version), Code::INVALID_ARGUMENT);
  auto no_project = typed;
  no_project.set_model_name("scorer");
  pb::ModelInferResponse response;
  auto status = Infer(no_project, &response, viewer_key_);
  EXPECT_EQ(status.error_code(), Code::NOT_FOUND);
  EXPECT_NE(status.error_message().find("<project>.<name>"), std::string::npos);
  auto unknown = typed;
  unknown.set_model_name("fraud.nope");
  EXPECT_EQ(InferCode(unknown), Code::NOT_FOUND);

  auto wrong_field = typed;
  wrong_field.mutable_inputs(0)->mutable_contents()->add_fp64_contents(1);
  EXPECT_EQ(InferCode(wrong_field), Code::INVALID_ARGUMENT);
  auto short_contents = Fp32Request({{1, 2}});
  short_contents.mutable_inputs(0)->set_shape(1, 3);
  EXPECT_EQ(InferCode(short_contents), Code::INVALID_ARGUMENT);
  auto typed_fp16 = typed;
  typed_fp16.mutable_inputs(0)->set_datatype("FP16");
  EXPECT_EQ(InferCode(typed_fp16), Code::INVALID_ARGUMENT);
  auto out_of_range = typed;
  out_of_range.mutable_inputs(0)->set_datatype("INT8");
  out_of_range.mutable_inputs(0)->mutable_contents()->clear_fp32_contents();
  out_of_range.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
  out_of_range.mutable_inputs(0)->mutable_contents()->add_int_contents(300);
  EXPECT_EQ(InferCode(out_of_range), Code::INVALID_ARGUMENT);
  auto mixed = typed;
  mixed.add_raw_input_contents(RawBytes(four, 8));
  EXPECT_EQ(InferCode(mixed), Code::INVALID_ARGUMENT);
}

TEST_F(GrpcServerTest, CredentialsAndRolesAreCheckedAndRefusalsAudited) {
  using Code = grpc::StatusCode;
  auto request = Fp32Request({{1, 2}});
  pb::ModelInferResponse response;
  EXPECT_EQ(Infer(request, &response, "").error_code(), Code::UNAUTHENTICATED);
  const std::string forged = "flj_notARealKeyAtAllButLongEnoughToLookLikeOne000000";
  auto refused = Infer(request, &response, forged);
  EXPECT_EQ(refused.error_code(), Code::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message().find(forged), std::string::npos);
  auto basic = Context("");
  basic->AddMetadata("authorization", "Basic " + viewer_key_);
  EXPECT_EQ(stub_->ModelInfer(basic.get(), request, &response).error_code(), Code::UNAUTHENTICATED);

  EXPECT_EQ(Infer(request, &response, stranger_key_).error_code(), Code::PERMISSION_DENIED);
  // The auditor may read models but not predict with them.
  EXPECT_EQ(Infer(request, &response, auditor_key_).error_code(), Code::PERMISSION_DENIED);
  pb::ModelMetadataRequest metadata_request;
  metadata_request.set_name("fraud.scorer");
  pb::ModelMetadataResponse metadata;
  EXPECT_EQ(
      stub_->ModelMetadata(Context(stranger_key_).get(), metadata_request, &metadata).error_code(),
      Code::PERMISSION_DENIED);

  auto records = audit_->Recent(10);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 6u);
  const auto& anonymous = records->back();
  EXPECT_EQ(anonymous.principal, "anonymous");
  EXPECT_EQ(anonymous.action, "models.predict");
  EXPECT_EQ(anonymous.method, "GRPC");
  EXPECT_EQ(anonymous.resource, "/inference.GRPCInferenceService/ModelInfer/fraud.scorer");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.outcome, "denied");
  EXPECT_TRUE(anonymous.source.starts_with("127.0.0.1:")) << anonymous.source;
  const auto& denied = records->front();
  EXPECT_TRUE(denied.principal.starts_with("key:"));
  EXPECT_EQ(denied.action, "models.read");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.outcome, "denied");
  for (const auto& record : *records) {
    EXPECT_EQ(record.resource.find(viewer_key_), std::string::npos);
    EXPECT_EQ(record.resource.find(forged), std::string::npos);
  }
}

TEST_F(GrpcServerTest, ConcurrentCallsAreAllAnsweredCorrectly) {
  constexpr int kThreads = 8, kCallsPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> correct{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        float a = static_cast<float>(t * 1000 + i);
        pb::ModelInferResponse response;
        auto status = Infer(Fp32Request({{a, 1}, {2, a}}), &response, viewer_key_);
        if (status.ok() && response.outputs(0).contents().fp32_contents(0) == a + 1 &&
            response.outputs(1).contents().fp32_contents(1) == std::max(a, 2.0f)) {
          ++correct;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(correct.load(), kThreads * kCallsPerThread);
  std::string text = metrics_.Render();
  EXPECT_NE(text.find("falaj_grpc_requests_total{method=\"ModelInfer\",code=\"OK\"} 200"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("falaj_grpc_request_seconds_count{method=\"ModelInfer\"} 200"),
            std::string::npos);
}

TEST_F(GrpcServerTest, StopLetsCallsInFlightFinish) {
  auto request = Fp32Request({{1, 2}});
  request.set_model_name("fraud.slow");
  auto entered = inference_.entered_slow.get_future();
  pb::ModelInferResponse response;
  grpc::Status slow_status;
  std::thread slow([&] { slow_status = Infer(request, &response, viewer_key_); });
  entered.wait();
  std::thread stopper([&] { server_->Stop(std::chrono::seconds(60)); });
  // Once the server refuses new calls, shutdown has begun while the slow call is still running.
  bool refusing = false;
  for (int attempt = 0; attempt < 100000 && !refusing; ++attempt) {
    grpc::ClientContext context;
    pb::ServerLiveResponse live;
    refusing = !stub_->ServerLive(&context, {}, &live).ok();
  }
  EXPECT_TRUE(refusing);
  inference_.release_slow.set_value();
  slow.join();
  stopper.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  EXPECT_EQ(response.outputs(0).contents().fp32_contents(0), 3);
}

TEST_F(GrpcServerTest, StartRefusesBadAddressesAndTlsSettings) {
  metrics::Registry registry;
  auto code = [&](std::string_view address, const TlsConfig& tls) {
    auto started = GrpcServer::Start(address, tls, Services(), registry);
    return started ? std::optional<ErrorCode>() : started.error().code;
  };
  EXPECT_EQ(code("nonsense", {}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("localhost:0", {}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("127.0.0.1:0", {"cert.pem", ""}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("127.0.0.1:0",
                 {(directory_ / "missing.pem").string(), (directory_ / "missing.key").string()}),
            ErrorCode::kInvalidArgument);
  std::ofstream(directory_ / "garbage.pem") << "not a certificate";
  EXPECT_EQ(code("127.0.0.1:0",
                 {(directory_ / "garbage.pem").string(), (directory_ / "garbage.pem").string()}),
            ErrorCode::kInvalidArgument);
  // The port is taken by the fixture's server.
  EXPECT_EQ(code("127.0.0.1:" + std::to_string(server_->port()), {}), ErrorCode::kUnavailable);
}

TEST_F(GrpcServerTest, ServesOverTls) {
  std::string cert = (directory_ / "tls.crt").string(), key = (directory_ / "tls.key").string();
  std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext "
      "subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  metrics::Registry registry;
  auto server = GrpcServer::Start("127.0.0.1:0", {cert, key}, Services(), registry);
  ASSERT_TRUE(server) << server.error().message;
  std::ifstream file(cert);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs.assign(std::istreambuf_iterator<char>(file), {});
  auto stub = pb::GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*server)->port()), grpc::SslCredentials(options)));
  pb::ModelInferResponse response;
  auto status = stub->ModelInfer(Context(viewer_key_).get(), Fp32Request({{1, 2}}), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outputs(0).contents().fp32_contents(0), 3);
  // A plaintext client gets nowhere with a TLS server.
  auto plain = pb::GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*server)->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pb::ServerLiveResponse live;
  EXPECT_FALSE(plain->ServerLive(&context, {}, &live).ok());
}

}  // namespace
}  // namespace falaj::api
