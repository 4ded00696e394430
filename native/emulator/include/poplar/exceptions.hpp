#pragma once
// Errors the SDK throws, as poplar/exceptions.hpp.
#include <stdexcept>
#include <string>

namespace poplar {

struct poplar_error : std::runtime_error {
  explicit poplar_error(const std::string &message) : std::runtime_error(message) {}
  explicit poplar_error(const char *message) : std::runtime_error(message) {}
};

// An engine whose variables and temporaries do not fit in IPU memory.
struct graph_memory_allocation_error : poplar_error {
  explicit graph_memory_allocation_error(const std::string &message) : poplar_error(message) {}
};

// A floating-point exception raised on the device while a program runs.
struct application_runtime_error : poplar_error {
  explicit application_runtime_error(const std::string &message) : poplar_error(message) {}
};

} // namespace poplar
