# The SDK build, checked without Graphcore's SDK: the emulated SDK is installed on its own into a fresh prefix
# (its public headers and libraries, as an SDK is laid out), and libft5 is configured with FT5_POPLAR_SDK=ON
# against that prefix, as on an IPU host. Then:
# - the SDK build compiles no file with the emulator's source tree on its include path (compile_commands.json);
# - it offers the poplar and ipu-model backends and refuses the emulator backend, naming the build;
# - one training step (one_training_step.cpp) on its ipu-model and poplar backends gives the same bits as the
#   emulator build's emulator backend.
# cmake -DSOURCE_DIR=native -DBUILD_DIR=<emulator build> -DWORK=<scratch> -DCXX=<c++> -P build_against_installed_sdk.cmake
file(REMOVE_RECURSE "${WORK}")
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (exit ${rc}):\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run("installing the emulated SDK" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --component emulator --prefix "${WORK}/sdk")

run("configuring libft5 against the installed SDK"
    "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK}/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
    -DFT5_POPLAR_SDK=ON "-DPOPLAR_ROOT=${WORK}/sdk" -DFT5_BUILD_TESTS=OFF -DFT5_BUILD_BENCH=OFF
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
if(NOT run_output MATCHES "built against the Poplar SDK in ${WORK}/sdk")
  message(FATAL_ERROR "the SDK build did not find the installed SDK:\n${run_output}")
endif()
run("building libft5 against the installed SDK" "${CMAKE_COMMAND}" --build "${WORK}/build" --target ft5 -j 2)

file(READ "${WORK}/build/compile_commands.json" commands)
if(commands MATCHES "${SOURCE_DIR}/emulator")
  string(REGEX MATCH "[^\n]*${SOURCE_DIR}/emulator[^\n]*" line "${commands}")
  message(FATAL_ERROR "the SDK build reaches into the emulator's sources:\n${line}")
endif()
if(NOT commands MATCHES "src/t5/attention.cpp" OR NOT commands MATCHES "backends/poplar/poplar_backends.cpp")
  message(FATAL_ERROR "the SDK build did not compile the builder and the SDK's backends")
endif()

set(program "${CMAKE_CURRENT_LIST_DIR}/one_training_step.cpp")
run("compiling the program against the SDK build"
    "${CXX}" -std=c++17 -Wall -Wextra -Werror "${program}" -I "${SOURCE_DIR}/include" -L "${WORK}/build" -lft5
    "-Wl,-rpath,${WORK}/build" "-Wl,-rpath-link,${WORK}/sdk/lib" -o "${WORK}/step_sdk_build")
run("compiling the program against the emulator build"
    "${CXX}" -std=c++17 -Wall -Wextra -Werror "${program}" -I "${SOURCE_DIR}/include" -L "${BUILD_DIR}" -lft5
    "-Wl,-rpath,${BUILD_DIR}:${BUILD_DIR}/emulator/lib" -o "${WORK}/step_emulator_build")

# One OpenBLAS thread in both: the emulator build sets the device's thread count itself, the SDK build leaves the
# host's arithmetic to its SDK. The SDK's libraries are found as its enable script arranges, on LD_LIBRARY_PATH.
set(env "${CMAKE_COMMAND}" -E env OPENBLAS_NUM_THREADS=1)
set(sdk_env ${env} "LD_LIBRARY_PATH=${WORK}/sdk/lib")
run("one step on the emulator build's emulator backend" ${env} "${WORK}/step_emulator_build" emulator)
set(expected "${run_output}")
foreach(backend ipu-model poplar)
  run("one step on the SDK build's ${backend} backend" ${sdk_env} "${WORK}/step_sdk_build" ${backend})
  if(NOT run_output STREQUAL expected)
    message(FATAL_ERROR "the SDK build's ${backend} backend differs from the emulator build:\n"
                        "emulator build:\n${expected}\nSDK build, ${backend}:\n${run_output}")
  endif()
endforeach()
execute_process(COMMAND ${sdk_env} "${WORK}/step_sdk_build" emulator RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "built against the Poplar SDK")
  message(FATAL_ERROR "the SDK build did not refuse the emulator backend by name (exit ${rc}): ${err}")
endif()
message(STATUS "the SDK build matches the emulator build:\n${expected}")
