#include "cli/progress_bar.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace falaj::cli {
namespace {

using std::chrono::duration;

TEST(ProgressBarTest, LineShowsShareSizesAndRate) {
  const uint64_t mib = 1024 * 1024;
  EXPECT_EQ(RenderProgressLine("uploading", 3 * mib, 12 * mib, duration<double>(1.5)),
            "uploading [######..................]  25%  3.0/12.0 MiB  2.0 MiB/s");
  EXPECT_EQ(RenderProgressLine("up", 12 * mib, 12 * mib, duration<double>(4)),
            "up [########################] 100%  12.0/12.0 MiB  3.0 MiB/s");
}

TEST(ProgressBarTest, EdgeCasesStayInRange) {
  // An empty body is done at once; more sent than the total (headers) never exceeds 100 %; no
  // time elapsed gives a rate of zero, not a division by zero.
  EXPECT_EQ(RenderProgressLine("x", 0, 0, duration<double>(0)),
            "x [########################] 100%  0.0/0.0 MiB  0.0 MiB/s");
  EXPECT_EQ(RenderProgressLine("x", 900, 100, duration<double>(0)).substr(0, 33),
            "x [########################] 100%");
}

TEST(ProgressBarTest, FractionLineShowsTheJobsMessage) {
  EXPECT_EQ(RenderFractionLine("tune", 0.5, "trial 7/20, best auc 0.934"),
            "tune [############............]  50%  trial 7/20, best auc 0.934");
  EXPECT_EQ(RenderFractionLine("job", 3.0, "").substr(0, 37),
            "job [########################] 100%  ");
  EXPECT_EQ(RenderFractionLine("job", 0.1, std::string(100, 'm')).size(),
            77u);  // message cut at 40
}

TEST(ProgressBarTest, ModesParseAndUnknownIsRefused) {
  ProgressMode mode = ProgressMode::kNever;
  EXPECT_TRUE(ParseProgressMode("always", mode));
  EXPECT_EQ(mode, ProgressMode::kAlways);
  EXPECT_TRUE(ParseProgressMode("auto", mode));
  EXPECT_EQ(mode, ProgressMode::kAuto);
  EXPECT_FALSE(ParseProgressMode("sometimes", mode));
  EXPECT_EQ(mode, ProgressMode::kAuto);
}

std::string Drawn(ProgressMode mode, uint64_t total) {
  std::FILE* file = std::tmpfile();
  {
    ProgressBar bar("up", mode, file);
    bar.Update(total / 2, total);
    bar.Update(total, total);
  }
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(file);
  return text;
}

TEST(ProgressBarTest, DrawsInPlaceWhenForcedAndStaysSilentOffATerminal) {
  const std::string forced = Drawn(ProgressMode::kAlways, 1000);
  // The first step and the last are always drawn, each from the start of the line.
  EXPECT_EQ(forced.find("\rup ["), 0u);
  EXPECT_NE(forced.find(" 50%"), std::string::npos);
  EXPECT_NE(forced.find("100%"), std::string::npos);
  EXPECT_EQ(forced.back(), '\n');
  // A temporary file is not a terminal.
  EXPECT_EQ(Drawn(ProgressMode::kAuto, 1000), "");
  EXPECT_EQ(Drawn(ProgressMode::kNever, 1000), "");
}

}  // namespace
}  // namespace falaj::cli
