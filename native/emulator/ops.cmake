# The op libraries' kernels and tests (poplin, popops, popnn, poprand), included by the emulator's
# CMakeLists.txt. Kernels are a private static library over plain arrays, namespace poplar_emulator.
file(GLOB POPLAR_EMULATOR_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/src/kernels/*.cpp)
add_library(poplar_emulator_kernels STATIC ${POPLAR_EMULATOR_KERNEL_SOURCES})
set_target_properties(poplar_emulator_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(poplar_emulator_kernels
  PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include ${CMAKE_CURRENT_LIST_DIR}/src
  PRIVATE ${OPENBLAS_CBLAS_INCLUDE})
target_link_libraries(poplar_emulator_kernels PUBLIC ${BLAS_LIBRARIES})
ft5_set_warnings(poplar_emulator_kernels)

if(FT5_BUILD_TESTS)
  find_package(GTest REQUIRED)
  file(GLOB POPLAR_EMULATOR_KERNEL_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/tests/ops/kernels/*.cpp)
  add_executable(emulator_kernel_tests ${POPLAR_EMULATOR_KERNEL_TESTS})
  target_include_directories(emulator_kernel_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/tests/ops)
  target_link_libraries(emulator_kernel_tests PRIVATE poplar_emulator_kernels GTest::gtest GTest::gtest_main)
  ft5_set_warnings(emulator_kernel_tests)
  include(GoogleTest)
  gtest_discover_tests(emulator_kernel_tests TEST_PREFIX "emulator.ops." DISCOVERY_TIMEOUT 60)
endif()
