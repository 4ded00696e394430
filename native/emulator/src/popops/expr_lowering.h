// popops::expr trees lowered to the map evaluator's flat node list.
#pragma once

#include "kernels/map_expression.h"

#include <popops/Expr.hpp>

#include <string>
#include <vector>

namespace poplar_emulator {

struct ExprAccess {
  // Appends expr's nodes to nodes and returns the index of its root. Placeholders become 0-based.
  static std::size_t lower(const popops::expr::Expr &expr, std::vector<MapNode> &nodes, const std::string &op);
  // The highest placeholder index used (1-based; 0 when none).
  static unsigned highestPlaceholder(const std::vector<MapNode> &nodes);
};

} // namespace poplar_emulator
