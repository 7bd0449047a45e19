// A one-line progress bar on a terminal for long CLI operations (uploads now; training and tuning
// later): "label [#######.............]  35%  12.0/34.3 MiB  8.1 MiB/s". It redraws in place at
// most every 100 ms and always for the last step; when the output is not a terminal (a pipe, a
// CI log) it stays silent unless forced, so scripts see only the command's answer.
// Not thread-safe: one bar per operation, driven from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace falaj::cli {

enum class ProgressMode { kAuto, kAlways, kNever };

// "auto", "always" or "never"; false for anything else.
bool ParseProgressMode(std::string_view text, ProgressMode& mode);

// The text of one redraw (no carriage return): pure, so it can be tested.
std::string RenderProgressLine(std::string_view label, uint64_t done, uint64_t total,
                               std::chrono::duration<double> elapsed);

// A job's redraw: "label [#####...]  35%  trial 7/20, best auc 0.934" (message cut to fit).
std::string RenderFractionLine(std::string_view label, double fraction, std::string_view message);

class ProgressBar {
 public:
  ProgressBar(std::string label, ProgressMode mode, std::FILE* out = stderr);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(uint64_t done, uint64_t total);
  // For work measured as a fraction with a status message (a job) rather than bytes.
  void UpdateFraction(double fraction, std::string_view message);
  // Ends the line (once) so later output starts on a fresh one.
  void Finish();

 private:
  void Draw(const std::string& line);
  std::string label_;
  std::FILE* out_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace falaj::cli
