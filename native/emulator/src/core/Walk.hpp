#pragma once
// Visits every step of a program tree once, including function bodies and loop conditions.
#include <set>

#include "core/ProgramNode.hpp"

namespace poplar_emulator {

template <class F> void forEachStep(const ProgramNode &node, F &&f, std::set<const ProgramNode *> &seen) {
  if (!seen.insert(&node).second) return;
  if (auto s = dynamic_cast<const SequenceNode *>(&node)) {
    for (const auto &c : s->children) forEachStep(*c, f, seen);
  } else if (auto r = dynamic_cast<const RepeatNode *>(&node)) {
    forEachStep(*r->body, f, seen);
  } else if (auto w = dynamic_cast<const RepeatWhileNode *>(&node)) {
    forEachStep(*w->cond, f, seen);
    forEachStep(*w->body, f, seen);
  } else if (auto i = dynamic_cast<const IfNode *>(&node)) {
    forEachStep(*i->thenBody, f, seen);
    forEachStep(*i->elseBody, f, seen);
  } else if (auto c = dynamic_cast<const CallNode *>(&node)) {
    forEachStep(*c->body, f, seen);
  } else if (auto st = dynamic_cast<const StepNode *>(&node)) {
    f(*st);
  }
}

} // namespace poplar_emulator
