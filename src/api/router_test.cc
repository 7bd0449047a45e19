#include "api/router.h"

#include <gtest/gtest.h>

namespace falaj::api {
namespace {

Handler Reply(int status) {
  return [status](HttpRequest&) { return HttpResponse::Text(status, "text/plain", ""); };
}

TEST(RouterTest, RefusesRouteWithoutPermission) {
  Router router;
  auto added = router.Add({"GET", "/x", "", Execution::kWorker, false, Reply(200)});
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(added.error().message.find("declares no permission"), std::string::npos);
}

TEST(RouterTest, RefusesDuplicateAndMalformedRoutes) {
  Router router;
  ASSERT_TRUE(router.Add({"GET", "/x", "x.read", Execution::kWorker, false, Reply(200)}));
  EXPECT_FALSE(router.Add({"GET", "/x", "x.read", Execution::kWorker, false, Reply(200)}));
  EXPECT_FALSE(router.Add({"GET", "x", "x.read", Execution::kWorker, false, Reply(200)}));
  EXPECT_FALSE(router.Add({"GET", "/y", "x.read", Execution::kWorker, false, nullptr}));
}

TEST(RouterTest, MatchesParametersAndDistinguishes404From405) {
  Router router;
  ASSERT_TRUE(router.Add({"GET", "/p/{name}", "p.read", Execution::kWorker, false, Reply(200)}));
  ASSERT_TRUE(
      router.Add({"DELETE", "/p/{name}", "p.write", Execution::kWorker, false, Reply(204)}));

  RouteMatch found = router.Match("GET", "/p/demo");
  ASSERT_NE(found.route, nullptr);
  EXPECT_EQ(found.params.at("name"), "demo");
  EXPECT_FALSE(found.error.has_value());

  RouteMatch wrong_method = router.Match("POST", "/p/demo");
  EXPECT_EQ(wrong_method.route, nullptr);
  ASSERT_TRUE(wrong_method.error.has_value());
  EXPECT_EQ(wrong_method.error->code, ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(wrong_method.allowed_methods, "GET, DELETE");

  for (const char* path : {"/p", "/p/", "/p/demo/extra", "/q/demo", ""}) {
    RouteMatch missing = router.Match("GET", path);
    EXPECT_EQ(missing.route, nullptr) << path;
    ASSERT_TRUE(missing.error.has_value()) << path;
    EXPECT_EQ(missing.error->code, ErrorCode::kNotFound) << path;
  }
}

TEST(RouterTest, AuditsMutationsByDefault) {
  Router router;
  ASSERT_TRUE(router.Add({"GET", "/a", "a.read", Execution::kWorker, false, Reply(200)}));
  ASSERT_TRUE(router.Add({"POST", "/a", "a.write", Execution::kWorker, false, Reply(201)}));
  Route prediction{"POST", "/b", "b.predict", Execution::kWorker, false, Reply(200)};
  prediction.audit_exempt = true;
  ASSERT_TRUE(router.Add(std::move(prediction)));
  EXPECT_FALSE(router.routes()[0].audited);
  EXPECT_TRUE(router.routes()[1].audited);
  EXPECT_FALSE(router.routes()[2].audited);
}

}  // namespace
}  // namespace falaj::api

namespace falaj::api {
namespace {

TEST(RouterTest, CapturesSeveralParametersAndRejectsEmptySegments) {
  Router router;
  ASSERT_TRUE(router.Add({"POST", "/v2/models/{model}/versions/{version}/infer", "m.write",
                          Execution::kWorker, false, Reply(200)}));
  RouteMatch match = router.Match("POST", "/v2/models/fraud/versions/3/infer");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params.at("model"), "fraud");
  EXPECT_EQ(match.params.at("version"), "3");
  EXPECT_EQ(router.Match("POST", "/v2/models//versions/3/infer").route, nullptr);
  EXPECT_EQ(router.Match("POST", "/v2/models/fraud/versions/3/infer/").route, nullptr);
  EXPECT_EQ(router.Match("POST", "v2/models/fraud/versions/3/infer").route, nullptr);
}

}  // namespace
}  // namespace falaj::api

namespace falaj::api {
namespace {

TEST(RouterTest, ParametersArePercentDecodedAndBadEscapesRefused) {
  Router router;
  ASSERT_TRUE(router.Add(
      {"PUT", "/p/{project}/members/{subject}", "m.admin", Execution::kWorker, false, Reply(200)}));
  RouteMatch match = router.Match("PUT", "/p/demo/members/user%3Aa%20b%2Fc");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params.at("subject"), "user:a b/c");
  RouteMatch bad = router.Match("PUT", "/p/demo/members/user%zz");
  EXPECT_EQ(bad.route, nullptr);
  ASSERT_TRUE(bad.error.has_value());
  EXPECT_EQ(bad.error->code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace falaj::api

namespace falaj::api {
namespace {

TEST(RouterTest, DottedSegmentsCarryTwoParameters) {
  Router router;
  ASSERT_TRUE(router.Add({"POST", "/v2/models/{project}.{model}/infer", "m.predict",
                          Execution::kWorker, false, Reply(200)}));
  RouteMatch match = router.Match("POST", "/v2/models/bank.fraud.v2/infer");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params.at("project"), "bank");
  EXPECT_EQ(match.params.at("model"), "fraud.v2");
  for (const char* path :
       {"/v2/models/bank/infer", "/v2/models/.fraud/infer", "/v2/models/bank./infer"}) {
    EXPECT_EQ(router.Match("POST", path).route, nullptr) << path;
  }
}

}  // namespace
}  // namespace falaj::api

namespace falaj::api {
namespace {

TEST(RouterTest, RestParameterCapturesTheRemainingSegments) {
  Router router;
  ASSERT_TRUE(router.Add(
      {"GET", "/p/{project}/files/{path+}", "f.read", Execution::kWorker, false, Reply(200)}));
  RouteMatch match = router.Match("GET", "/p/demo/files/0/run/artifacts/model%20a/MLmodel");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params.at("project"), "demo");
  EXPECT_EQ(match.params.at("path"), "0/run/artifacts/model a/MLmodel");
  EXPECT_EQ(router.Match("GET", "/p/demo/files/").route, nullptr);
  EXPECT_EQ(router.Match("GET", "/p/demo/files").route, nullptr);
  RouteMatch bad = router.Match("GET", "/p/demo/files/a/%zz");
  ASSERT_TRUE(bad.error.has_value());
  EXPECT_EQ(bad.error->code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace falaj::api
