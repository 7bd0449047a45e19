#include "cli/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace falaj::cli {
namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

bool ParseProgressMode(std::string_view text, ProgressMode& mode) {
  if (text == "auto") {
    mode = ProgressMode::kAuto;
  } else if (text == "always") {
    mode = ProgressMode::kAlways;
  } else if (text == "never") {
    mode = ProgressMode::kNever;
  } else {
    return false;
  }
  return true;
}

std::string RenderProgressLine(std::string_view label, uint64_t done, uint64_t total,
                               std::chrono::duration<double> elapsed) {
  done = std::min(done, total);
  // An empty body is complete as soon as it is sent.
  const double fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(fraction * kBarWidth);
  const double seconds = elapsed.count();
  const double rate = seconds > 0 ? static_cast<double>(done) / kMiB / seconds : 0.0;
  return fmt::format("{} [{}{}] {:3d}%  {:.1f}/{:.1f} MiB  {:.1f} MiB/s", label,
                     std::string(filled, '#'), std::string(kBarWidth - filled, '.'),
                     static_cast<int>(fraction * 100), static_cast<double>(done) / kMiB,
                     static_cast<double>(total) / kMiB, rate);
}

std::string RenderFractionLine(std::string_view label, double fraction, std::string_view message) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kBarWidth);
  return fmt::format("{} [{}{}] {:3d}%  {}", label, std::string(filled, '#'),
                     std::string(kBarWidth - filled, '.'), static_cast<int>(fraction * 100),
                     message.substr(0, 40));
}

ProgressBar::ProgressBar(std::string label, ProgressMode mode, std::FILE* out)
    : label_(std::move(label)),
      out_(out),
      enabled_(mode == ProgressMode::kAlways ||
               (mode == ProgressMode::kAuto && isatty(fileno(out)) == 1)) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && drawn_ && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  drawn_ = true;
  Draw(RenderProgressLine(label_, done, total, now - started_));
}

void ProgressBar::UpdateFraction(double fraction, std::string_view message) {
  if (!enabled_) return;
  last_draw_ = std::chrono::steady_clock::now();
  drawn_ = true;
  Draw(RenderFractionLine(label_, fraction, message));
}

void ProgressBar::Draw(const std::string& line) {
  // Padding wipes the tail of a longer previous line.
  std::fprintf(out_, "\r%-78s", line.c_str());
  std::fflush(out_);
}

void ProgressBar::Finish() {
  if (!drawn_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace falaj::cli
