# The op libraries (poplin, popops, popnn, poprand): their kernels over plain arrays
# (poplar_emulator_kernels, no Poplar types) and the helpers they share on top of the core's kernel
# hook (poplar_emulator_op_support), both private static libraries; plus their tests.
function(emulator_private_library name)
  file(GLOB sources CONFIGURE_DEPENDS ${ARGN})
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${EMULATOR_INCLUDE} ${EMULATOR_SRC} PRIVATE ${OPENBLAS_CBLAS_INCLUDE})
  set_target_properties(${name} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF
                        POSITION_INDEPENDENT_CODE ON)
  ft5_set_warnings(${name})
endfunction()

emulator_private_library(poplar_emulator_kernels ${EMULATOR_SRC}/kernels/*.cpp)
# The kernels never read errno: without it sqrt becomes one vector instruction and their loops vectorize. Values
# are unchanged (a negative square root is NaN either way).
target_compile_options(poplar_emulator_kernels PRIVATE -fno-math-errno)
target_link_libraries(poplar_emulator_kernels PUBLIC ${BLAS_LIBRARIES})
emulator_private_library(poplar_emulator_op_support ${EMULATOR_SRC}/ops/*.cpp)
target_link_libraries(poplar_emulator_op_support PUBLIC poplar poputil poplar_emulator_kernels)

foreach(lib poplin popops popnn poprand)
  target_link_libraries(${lib} PRIVATE poplar_emulator_op_support)
endforeach()
# popops::fill and zero are inline maps; cast and zero call popops::map.
target_link_libraries(popops PUBLIC poplar)

if(FT5_BUILD_BENCH)
  add_executable(emulator_matmul_bench ${CMAKE_CURRENT_LIST_DIR}/bench/matmul_bench.cpp)
  target_include_directories(emulator_matmul_bench PRIVATE ${OPENBLAS_CBLAS_INCLUDE})
  target_link_libraries(emulator_matmul_bench PRIVATE poplar poplin ${BLAS_LIBRARIES})
  set_target_properties(emulator_matmul_bench PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  ft5_set_warnings(emulator_matmul_bench)
  add_executable(emulator_map_bench ${CMAKE_CURRENT_LIST_DIR}/bench/map_bench.cpp)
  target_link_libraries(emulator_map_bench PRIVATE poplar popops)
  set_target_properties(emulator_map_bench PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  ft5_set_warnings(emulator_map_bench)
endif()

if(FT5_BUILD_TESTS)
  find_package(GTest REQUIRED)
  file(GLOB kernel_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/tests/ops/kernels/*.cpp)
  add_executable(emulator_kernel_tests ${kernel_tests})
  target_include_directories(emulator_kernel_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/tests/ops)
  target_link_libraries(emulator_kernel_tests PRIVATE poplar_emulator_kernels GTest::gtest GTest::gtest_main)
  set_target_properties(emulator_kernel_tests PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  ft5_set_warnings(emulator_kernel_tests)

  file(GLOB op_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/tests/ops/*.cpp)
  if(NOT op_tests)
    message(FATAL_ERROR "no op tests under ${CMAKE_CURRENT_LIST_DIR}/tests/ops")
  endif()
  add_executable(emulator_op_tests ${op_tests})
  target_include_directories(emulator_op_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/tests/ops ${EMULATOR_SRC})
  target_link_libraries(emulator_op_tests PRIVATE poplar poplin popops popnn poprand GTest::gtest GTest::gtest_main)
  set_target_properties(emulator_op_tests PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  ft5_set_warnings(emulator_op_tests)

  # A standalone program using the op libraries, built against the installed SDK with its link line.
  set(dense_layer_libs poplar poplin popops popnn poprand poputil gcl)
  string(REPLACE ";" "\\;" dense_layer_link "${dense_layer_libs}")
  set(sanitize_flags "")
  if(FT5_SANITIZE)
    set(sanitize_flags "-fsanitize=address,undefined")
  endif()
  add_test(NAME emulator.ops.InstalledSdk.BuildsAndRunsADenseLayerProgram
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -DSAMPLE=${CMAKE_CURRENT_LIST_DIR}/sample/dense_layer.cpp
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/installed_dense_layer -DCXX=${CMAKE_CXX_COMPILER}
                   -DLIBS=${dense_layer_link} -DSANITIZE_FLAGS=${sanitize_flags}
                   -P ${CMAKE_CURRENT_LIST_DIR}/sample/build_installed_sample.cmake)
  add_test(NAME emulator.ops.InstalledSdk.OpLibrariesFindTheirDependenciesInThePrefix
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -DSAMPLE=${CMAKE_CURRENT_LIST_DIR}/sample/two_ipu_matmul.cpp
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/installed_two_ipu_matmul -DCXX=${CMAKE_CXX_COMPILER}
                   -DLIBS=${dense_layer_link} -DSANITIZE_FLAGS=${sanitize_flags}
                   -P ${CMAKE_CURRENT_LIST_DIR}/sample/build_installed_sample.cmake)

  include(GoogleTest)
  gtest_discover_tests(emulator_kernel_tests TEST_PREFIX "emulator.ops." DISCOVERY_TIMEOUT 60)
  gtest_discover_tests(emulator_op_tests TEST_PREFIX "emulator.ops." DISCOVERY_TIMEOUT 60)
endif()
