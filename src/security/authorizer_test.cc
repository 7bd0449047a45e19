#include "security/authorizer.h"

#include <gtest/gtest.h>

namespace falaj::security {
namespace {

TEST(AuthorizerTest, RolesGrantWhatTheyShouldAndNothingElse) {
  Principal admin{"key:a", "a", "admin"};
  Principal editor{"key:e", "e", "editor"};
  Principal viewer{"key:v", "v", "viewer"};
  Principal stranger{"key:s", "s", "superuser"};
  EXPECT_TRUE(IsAllowed(admin, "projects.write"));
  EXPECT_TRUE(IsAllowed(admin, "keys.admin"));
  EXPECT_TRUE(IsAllowed(editor, "projects.write"));
  EXPECT_FALSE(IsAllowed(editor, "keys.admin"));
  EXPECT_TRUE(IsAllowed(viewer, "projects.read"));
  EXPECT_FALSE(IsAllowed(viewer, "projects.write"));
  EXPECT_FALSE(IsAllowed(stranger, "projects.read"));
  EXPECT_FALSE(IsAllowed(admin, ""));
  EXPECT_TRUE(IsKnownRole("viewer"));
  EXPECT_FALSE(IsKnownRole("root"));
}

}  // namespace
}  // namespace falaj::security
