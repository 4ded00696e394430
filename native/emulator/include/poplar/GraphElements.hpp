#pragma once
// Handles to graph elements, as the SDK's poplar/GraphElements.hpp.
#include <memory>

namespace poplar_emulator {
struct Access;
class ProgramNode;
} // namespace poplar_emulator

namespace poplar {

// A program body that several Call programs share, made by Graph::addFunction.
class Function {
public:
  Function() = default;

private:
  friend struct poplar_emulator::Access;
  std::shared_ptr<const poplar_emulator::ProgramNode> body_;
};

} // namespace poplar
