// Emulated Poplar SDK: the emulator needs no codelets; addCodelets checks the graph and returns.
#ifndef POPOPS_CODELETS_HPP
#define POPOPS_CODELETS_HPP

#include <poplar/Graph.hpp>

namespace popops {

void addCodelets(poplar::Graph &graph);

} // namespace popops

#endif
