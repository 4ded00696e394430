#include <poplar/Type.hpp>
#include <poplar/exceptions.hpp>

#include "core/Access.hpp"
#include "core/TypeInfo.hpp"

namespace poplar_emulator {
namespace {
const TypeInfo kBool{"bool", 1, TypeKind::Bool};
const TypeInfo kChar{"char", 1, TypeKind::Signed};
const TypeInfo kUnsignedChar{"unsigned char", 1, TypeKind::Unsigned};
const TypeInfo kSignedChar{"signed char", 1, TypeKind::Signed};
const TypeInfo kUnsignedShort{"unsigned short", 2, TypeKind::Unsigned};
const TypeInfo kShort{"short", 2, TypeKind::Signed};
const TypeInfo kUnsignedInt{"unsigned int", 4, TypeKind::Unsigned};
const TypeInfo kInt{"int", 4, TypeKind::Signed};
const TypeInfo kUnsignedLong{"unsigned long", sizeof(unsigned long), TypeKind::Unsigned};
const TypeInfo kLong{"long", sizeof(long), TypeKind::Signed};
const TypeInfo kUnsignedLongLong{"unsigned long long", 8, TypeKind::Unsigned};
const TypeInfo kLongLong{"long long", 8, TypeKind::Signed};
const TypeInfo kQuarter{"quarter", 1, TypeKind::Quarter};
const TypeInfo kQuarterMetadata{"quarter_metadata", 1, TypeKind::Quarter};
const TypeInfo kHalf{"half", 2, TypeKind::Half};
const TypeInfo kFloat{"float", 4, TypeKind::Float};
} // namespace

const TypeInfo &typeInfo(const poplar::Type &type, const char *what) {
  const TypeInfo *info = Access::info(type);
  if (info == nullptr) throw poplar::poplar_error(std::string(what) + " has no element type (a default-constructed poplar::Type)");
  return *info;
}

} // namespace poplar_emulator

namespace poplar {

using poplar_emulator::Access;

StringRef Type::toString() const { return info_ ? StringRef(info_->name) : StringRef("<no type>"); }
bool Type::isFloatingPoint() const {
  return info_ && (info_->kind == poplar_emulator::TypeKind::Float || info_->kind == poplar_emulator::TypeKind::Half ||
                   info_->kind == poplar_emulator::TypeKind::Quarter);
}

// Not const, as the SDK declares them; makeType is constexpr, so they are initialised before any dynamic initialiser runs.
Type BOOL = Access::makeType(&poplar_emulator::kBool);
Type CHAR = Access::makeType(&poplar_emulator::kChar);
Type UNSIGNED_CHAR = Access::makeType(&poplar_emulator::kUnsignedChar);
Type SIGNED_CHAR = Access::makeType(&poplar_emulator::kSignedChar);
Type UNSIGNED_SHORT = Access::makeType(&poplar_emulator::kUnsignedShort);
Type SHORT = Access::makeType(&poplar_emulator::kShort);
Type UNSIGNED_INT = Access::makeType(&poplar_emulator::kUnsignedInt);
Type INT = Access::makeType(&poplar_emulator::kInt);
Type UNSIGNED_LONG = Access::makeType(&poplar_emulator::kUnsignedLong);
Type LONG = Access::makeType(&poplar_emulator::kLong);
Type UNSIGNED_LONGLONG = Access::makeType(&poplar_emulator::kUnsignedLongLong);
Type LONGLONG = Access::makeType(&poplar_emulator::kLongLong);
Type QUARTER = Access::makeType(&poplar_emulator::kQuarter);
Type QUARTER_METADATA = Access::makeType(&poplar_emulator::kQuarterMetadata);
Type HALF = Access::makeType(&poplar_emulator::kHalf);
Type FLOAT = Access::makeType(&poplar_emulator::kFloat);

} // namespace poplar
