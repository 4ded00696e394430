// Emulated Poplar SDK: the emulator needs no codelets; addCodelets checks the graph and returns.
#ifndef POPNN_CODELETS_HPP
#define POPNN_CODELETS_HPP

#include <poplar/Graph.hpp>

namespace popnn {

void addCodelets(poplar::Graph &graph);

} // namespace popnn

#endif
