// Emulated Poplar SDK: popops::Operation (declared in OperationDef.hpp, as in the SDK).
#ifndef POPOPS_OPERATION_HPP
#define POPOPS_OPERATION_HPP

#include <popops/OperationDef.hpp>

#endif
