# Finds the Graphcore Poplar SDK (poplar, poplibs, GCL) when it is installed and activated
# (POPLAR_SDK_ENABLED or POPLAR_ROOT / the `popc` compiler on PATH). Without it this module is a no-op
# that sets Poplar_FOUND to FALSE, and only the emulator backend is built.
find_program(POPLAR_POPC popc HINTS $ENV{POPLAR_ROOT}/bin $ENV{POPLAR_SDK_ENABLED}/bin)
find_path(POPLAR_INCLUDE_DIR poplar/Graph.hpp HINTS $ENV{POPLAR_ROOT}/include $ENV{POPLAR_SDK_ENABLED}/include)
find_library(POPLAR_LIBRARY poplar HINTS $ENV{POPLAR_ROOT}/lib $ENV{POPLAR_SDK_ENABLED}/lib)
find_library(POPLIN_LIBRARY poplin HINTS $ENV{POPLAR_ROOT}/lib $ENV{POPLAR_SDK_ENABLED}/lib)
find_library(POPOPS_LIBRARY popops HINTS $ENV{POPLAR_ROOT}/lib $ENV{POPLAR_SDK_ENABLED}/lib)
find_library(POPNN_LIBRARY popnn HINTS $ENV{POPLAR_ROOT}/lib $ENV{POPLAR_SDK_ENABLED}/lib)
find_library(GCL_LIBRARY gcl HINTS $ENV{POPLAR_ROOT}/lib $ENV{POPLAR_SDK_ENABLED}/lib)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Poplar DEFAULT_MSG POPLAR_INCLUDE_DIR POPLAR_LIBRARY POPLIN_LIBRARY
                                  POPOPS_LIBRARY POPNN_LIBRARY GCL_LIBRARY)
if(Poplar_FOUND AND NOT TARGET Poplar::Poplar)
  add_library(Poplar::Poplar INTERFACE IMPORTED)
  set_target_properties(Poplar::Poplar PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${POPLAR_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${POPLAR_LIBRARY};${POPLIN_LIBRARY};${POPOPS_LIBRARY};${POPNN_LIBRARY};${GCL_LIBRARY}")
endif()
