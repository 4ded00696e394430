#pragma once

namespace poplar {

enum TargetType { IPU, IPU_MODEL, CPU };

} // namespace poplar
