// popops::map's evaluator: an element-wise expression is compiled once into a flat program over
// registers of kMapChunk elements, then run chunk by chunk over the (broadcast) output, so each
// operation is a tight loop over a chunk rather than a walk down a tree for every element.
#pragma once

#include "kernels/element_kind.h"

#include <popops/ExprOp.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace poplar_emulator {

constexpr std::size_t kMapChunk = 1024;
// A band of chunks given to one host worker is at least this many chunks.
constexpr std::size_t kMinChunksPerPart = 8;

class PartRunner;
struct InputWalk;

// One node of an expression tree, in a flat list; children are indices into the same list.
struct MapNode {
  enum class Kind { Input, Constant, Cast, Unary, Binary, Ternary };
  Kind kind = Kind::Constant;
  unsigned input = 0;             // Input: 0-based placeholder index
  double constant = 0.0;          // Constant: its value
  ElementKind type = ElementKind::Float;  // Constant: its type (before adopting a sibling's); Cast: target
  bool typeFixed = false;         // Constant: the type was given explicitly (ConstHalf), do not adopt
  popops::expr::UnaryOpType unaryOp = popops::expr::UnaryOpType::ABSOLUTE;
  popops::expr::BinaryOpType binaryOp = popops::expr::BinaryOpType::ADD;
  popops::expr::TernaryOpType ternaryOp = popops::expr::TernaryOpType::SELECT;
  std::size_t args[3] = {0, 0, 0};
};

// An input array of the expression: shape broadcast to the output's numpy-style (trailing
// dimensions aligned, size-1 or missing dimensions repeated).
struct MapInput {
  const void *data = nullptr;
  ElementKind kind = ElementKind::Float;
  std::vector<std::size_t> shape;
};

struct MapOutput {
  void *data = nullptr;
  ElementKind kind = ElementKind::Float;
};

class MapProgram {
public:
  // Compiles the expressions rooted at roots over inputs of the given kinds. Throws
  // std::invalid_argument naming the operation when types do not fit (e.g. SQRT of an int).
  MapProgram(const std::vector<MapNode> &nodes, const std::vector<std::size_t> &roots,
             const std::vector<ElementKind> &inputKinds);

  // The element type each root's result has.
  const std::vector<ElementKind> &resultKinds() const { return resultKinds_; }

  // Evaluates into outputs (contiguous, outShape, one per root, converted to each output's kind).
  // HALF outputs are left in float for the engine's write-back to round; HALF intermediates are
  // rounded after every operation, except values past the half range, left for the write-back's
  // floating-point behaviour to see.
  // Bands of chunks run on the workers when given (null: on the calling thread).
  void run(const std::vector<MapInput> &inputs, const std::vector<std::size_t> &outShape,
           const std::vector<MapOutput> &outputs, PartRunner *workers = nullptr) const;

  // Operations per element, for the cycle model.
  std::size_t operationCount() const { return instructions_.size(); }

  struct Instruction;

private:
  // Output elements [begin, end), begin a multiple of kMapChunk.
  void runChunks(const std::vector<InputWalk> &walks, const std::vector<std::size_t> &outShape,
                 const std::vector<MapOutput> &outputs, std::size_t begin, std::size_t end) const;

  std::vector<Instruction> instructions_;
  std::vector<std::size_t> rootRegisters_;
  std::vector<ElementKind> resultKinds_;
  std::vector<ElementKind> registerKinds_;
  std::vector<bool> isRoot_;  // per register: holds an expression's result
  std::size_t inputCount_ = 0;
};

struct MapProgram::Instruction {
  MapNode::Kind kind;
  popops::expr::UnaryOpType unaryOp;
  popops::expr::BinaryOpType binaryOp;
  popops::expr::TernaryOpType ternaryOp;
  ElementKind resultKind;
  ElementKind operandKind;  // the kind of the operands (differs from the result for comparisons, casts)
  std::size_t dst;
  std::size_t src[3];
  unsigned input;
  double constant;
};

// The output shape inputs broadcast to; throws std::invalid_argument naming the input that does not.
std::vector<std::size_t> broadcastShape(const std::vector<std::vector<std::size_t>> &shapes);

} // namespace poplar_emulator
