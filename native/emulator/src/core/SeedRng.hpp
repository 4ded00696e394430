#pragma once
// The hardware random source behind stochastic rounding: counter based, so its whole state is four
// 32-bit words (what poplar::getHwSeeds returns and poplar::setHwSeeds restores).
#include <array>
#include <cstdint>

namespace poplar_emulator {

class SeedRng {
public:
  explicit SeedRng(std::uint64_t key = 0) : key_(key) {}
  std::uint32_t operator()() {
    // splitmix64 of key + counter: independent, well-mixed 32-bit draws.
    std::uint64_t x = key_ + 0x9e3779b97f4a7c15ull * ++counter_;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return static_cast<std::uint32_t>((x ^ (x >> 31)) >> 32);
  }
  std::array<std::uint32_t, 4> state() const {
    return {static_cast<std::uint32_t>(key_), static_cast<std::uint32_t>(key_ >> 32),
            static_cast<std::uint32_t>(counter_), static_cast<std::uint32_t>(counter_ >> 32)};
  }
  void setState(const std::array<std::uint32_t, 4> &s) {
    key_ = s[0] | (static_cast<std::uint64_t>(s[1]) << 32);
    counter_ = s[2] | (static_cast<std::uint64_t>(s[3]) << 32);
  }

private:
  std::uint64_t key_;
  std::uint64_t counter_ = 0;
};

} // namespace poplar_emulator
