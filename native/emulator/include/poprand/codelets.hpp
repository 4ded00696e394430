// Emulated Poplar SDK: the emulator needs no codelets; addCodelets checks the graph and returns.
#ifndef POPRAND_CODELETS_HPP
#define POPRAND_CODELETS_HPP

#include <poplar/Graph.hpp>

namespace poprand {

void addCodelets(poplar::Graph &graph);

} // namespace poprand

#endif
