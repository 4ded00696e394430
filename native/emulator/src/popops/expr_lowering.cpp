#include "popops/expr_lowering.h"

#include "ops/op_support.h"

namespace poplar_emulator {

using namespace popops::expr;

std::size_t ExprAccess::lower(const Expr &expr, std::vector<MapNode> &nodes, const std::string &op) {
  MapNode node;
  if (const auto *p = dynamic_cast<const PlaceHolder *>(&expr)) {
    if (p->index_ == 0)
      opError(op, "placeholders count from _1; PlaceHolder(0) names no tensor");
    node.kind = MapNode::Kind::Input;
    node.input = p->index_ - 1;
  } else if (const auto *c = dynamic_cast<const Const *>(&expr)) {
    node.kind = MapNode::Kind::Constant;
    node.constant = c->value_;
    node.type = elementKindOf(c->type_, op, "a constant");
    node.typeFixed = c->typeFixed_;
  } else if (const auto *cast = dynamic_cast<const Cast *>(&expr)) {
    node.kind = MapNode::Kind::Cast;
    node.type = elementKindOf(cast->type_, op, "a cast's target");
    node.args[0] = lower(*cast->a_, nodes, op);
  } else if (const auto *u = dynamic_cast<const UnaryOp *>(&expr)) {
    node.kind = MapNode::Kind::Unary;
    node.unaryOp = u->type_;
    node.args[0] = lower(*u->a_, nodes, op);
  } else if (const auto *b = dynamic_cast<const BinaryOp *>(&expr)) {
    node.kind = MapNode::Kind::Binary;
    node.binaryOp = b->type_;
    node.args[0] = lower(*b->a_, nodes, op);
    node.args[1] = lower(*b->b_, nodes, op);
  } else if (const auto *t = dynamic_cast<const TernaryOp *>(&expr)) {
    node.kind = MapNode::Kind::Ternary;
    node.ternaryOp = t->type_;
    node.args[0] = lower(*t->a_, nodes, op);
    node.args[1] = lower(*t->b_, nodes, op);
    node.args[2] = lower(*t->c_, nodes, op);
  } else {
    opError(op, "unknown kind of expression");
  }
  nodes.push_back(node);
  return nodes.size() - 1;
}

unsigned ExprAccess::highestPlaceholder(const std::vector<MapNode> &nodes) {
  unsigned highest = 0;
  for (const MapNode &n : nodes)
    if (n.kind == MapNode::Kind::Input)
      highest = std::max(highest, n.input + 1);
  return highest;
}

} // namespace poplar_emulator

namespace popops {
namespace expr {
Expr::~Expr() = default;
} // namespace expr
} // namespace popops
