#pragma once

namespace poplar {

// REPLICATE: each replica has its own data in the stream; BROADCAST: every replica gets the same data.
enum class ReplicatedStreamMode { REPLICATE, BROADCAST };

} // namespace poplar
