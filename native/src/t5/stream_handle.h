// The host stream handles of a program set (t5_program.h): one graph holds a set of streams per static shape.
#pragma once

#include <cstddef>
#include <string>

namespace ft5::t5 {

// Set 0's streams keep their plain handles (those in the streams namespaces); set s > 0's end in "/s".
inline std::string streamHandle(const char* stream, std::size_t set) {
    return set == 0 ? std::string(stream) : std::string(stream) + "/" + std::to_string(set);
}

}  // namespace ft5::t5
