#include "monitoring/monitored_values.h"

namespace falaj::monitoring {

std::string MonitoredValues::Key(std::string_view project, std::string_view name) {
  std::string key;
  key.reserve(project.size() + 1 + name.size());
  key.append(project).push_back('\n');
  key.append(name);
  return key;
}

void MonitoredValues::Set(std::string_view project, std::string_view name, MonitoredValue value) {
  std::lock_guard lock(mutex_);
  values_.insert_or_assign(Key(project, name), value);
}

std::optional<MonitoredValue> MonitoredValues::Get(std::string_view project,
                                                   std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto found = values_.find(Key(project, name));
  if (found == values_.end()) return std::nullopt;
  return found->second;
}

std::vector<std::pair<std::string, MonitoredValue>> MonitoredValues::List(
    std::string_view project, std::string_view prefix) const {
  const std::string start = Key(project, prefix);
  std::vector<std::pair<std::string, MonitoredValue>> found;
  std::lock_guard lock(mutex_);
  for (auto it = values_.lower_bound(start);
       it != values_.end() && std::string_view(it->first).starts_with(start); ++it) {
    found.emplace_back(it->first.substr(project.size() + 1), it->second);
  }
  return found;
}

void MonitoredValues::Erase(std::string_view project, std::string_view prefix) {
  const std::string start = Key(project, prefix);
  std::lock_guard lock(mutex_);
  auto it = values_.lower_bound(start);
  while (it != values_.end() && std::string_view(it->first).starts_with(start)) {
    it = values_.erase(it);
  }
}

}  // namespace falaj::monitoring
