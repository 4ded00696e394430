// Emulated Poplar SDK: the emulator needs no codelets; addCodelets checks the graph and returns.
#ifndef POPLIN_CODELETS_HPP
#define POPLIN_CODELETS_HPP

#include <poplar/Graph.hpp>

namespace poplin {

void addCodelets(poplar::Graph &graph);

} // namespace poplin

#endif
