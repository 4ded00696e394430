# Installs the emulator component into a fresh prefix and builds and runs the sample against it with
# the SDK's link line, as a user of the SDK would: cmake -DBUILD_DIR=... -DSAMPLE=... -DWORK=... -DLIBS=...
file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --component emulator --prefix "${WORK}/sdk"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "installing the emulator component failed")
endif()
foreach(header poplar/Engine.hpp poplar/Graph.hpp gcl/Collectives.hpp poputil/TileMapping.hpp)
  if(NOT EXISTS "${WORK}/sdk/include/${header}")
    message(FATAL_ERROR "the installed SDK lacks include/${header}")
  endif()
endforeach()
if(EXISTS "${WORK}/sdk/include/core")
  message(FATAL_ERROR "private emulator headers were installed")
endif()
# --as-needed, as several distributions' linkers default to: a library the program does not call is left out of its
# list and must be found by the libraries that use it.
set(link_flags)
foreach(lib ${LIBS})
  list(APPEND link_flags "-l${lib}")
endforeach()
execute_process(COMMAND "${CXX}" -std=c++17 -Wall -Wextra -Werror ${SANITIZE_FLAGS} "${SAMPLE}" -I "${WORK}/sdk/include"
                        -L "${WORK}/sdk/lib" -Wl,--as-needed ${link_flags} "-Wl,-rpath,${WORK}/sdk/lib" -o "${WORK}/sample"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling the sample against the installed SDK failed")
endif()
execute_process(COMMAND "${WORK}/sample" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the sample gave wrong results (exit ${rc})")
endif()
