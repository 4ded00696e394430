#pragma once

namespace poplar {

enum VariableMappingMethod { NONE, LINEAR };

} // namespace poplar
