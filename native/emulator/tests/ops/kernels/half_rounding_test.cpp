#include "core/Half.hpp"
#include "op_reference.h"

#include <cstring>

using namespace poplar_emulator;

namespace {

float fromBits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The compiler's own float -> _Float16 conversion (round to nearest even) as the reference.
bool sameAsCompiler(float x) {
  const float expected = static_cast<float>(static_cast<_Float16>(x));
  const float actual = roundToHalf(x);
  if (std::isnan(expected))
    return std::isnan(actual);
  return std::memcmp(&expected, &actual, sizeof expected) == 0;  // also tells -0 from +0
}

} // namespace

TEST(HalfRounding, AgreesWithTheCompilersConversionAroundEveryHalfValue) {
  // Every half value, and the floats just around it and halfway to the next: ties, carries into
  // the exponent, subnormals, the largest half and the overflow threshold 65520.
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    _Float16 half;
    const std::uint16_t halfBits = static_cast<std::uint16_t>(h);
    std::memcpy(&half, &halfBits, sizeof half);
    const float v = static_cast<float>(half);
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (std::int32_t delta : {-1, 0, 1, 0x1000 - 1, 0x1000, 0x1000 + 1, 0x2000 - 1})
      ASSERT_TRUE(sameAsCompiler(fromBits(bits + static_cast<std::uint32_t>(delta)))) << std::hex << h << " " << delta;
    const float halfway = std::nextafter(v, INFINITY);
    ASSERT_TRUE(sameAsCompiler(halfway)) << std::hex << h;
  }
}

TEST(HalfRounding, AgreesWithTheCompilersConversionOnRandomFloats) {
  auto rng = ops_test::testRng();
  for (int i = 0; i < 2000000; ++i) {
    const float x = fromBits(static_cast<std::uint32_t>(rng()));
    ASSERT_TRUE(sameAsCompiler(x)) << x;
  }
}
