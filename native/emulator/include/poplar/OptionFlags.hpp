#pragma once
// String options for engines and library calls, as the SDK's poplar::OptionFlags.
#include <initializer_list>
#include <map>
#include <string>
#include <utility>

#include <poplar/StringRef.hpp>

namespace poplar_emulator {
struct Access;
}

namespace poplar {

class OptionFlags {
public:
  OptionFlags() = default;
  OptionFlags(std::initializer_list<std::pair<std::string, std::string>> options) {
    for (const auto &kv : options) values_[kv.first] = kv.second;
  }
  void set(StringRef option, StringRef value) { values_[option.cloneAsString()] = value.cloneAsString(); }
  void clear() { values_.clear(); }
  auto begin() const { return values_.begin(); }
  auto end() const { return values_.end(); }

private:
  friend struct poplar_emulator::Access;
  std::map<std::string, std::string> values_;
};

} // namespace poplar
