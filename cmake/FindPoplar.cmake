# Finds the Graphcore Poplar SDK: its headers and the libraries of the SDK's link line (poplar, poplin, popops,
# popnn, poprand, poputil, gcl). Looks under POPLAR_ROOT (a CMake or environment variable) and POPLAR_SDK_ENABLED
# (set by the SDK's enable.sh), then the default paths. Defines Poplar::Poplar and POPLAR_INCLUDE_DIR /
# POPLAR_LIBRARY; without the SDK it sets Poplar_FOUND to FALSE.
set(_poplar_hints ${POPLAR_ROOT} $ENV{POPLAR_ROOT} $ENV{POPLAR_SDK_ENABLED})
find_path(POPLAR_INCLUDE_DIR poplar/Graph.hpp HINTS ${_poplar_hints} PATH_SUFFIXES include)
set(_poplar_libraries)
foreach(_lib poplar poplin popops popnn poprand poputil gcl)
  string(TOUPPER ${_lib} _upper)
  find_library(${_upper}_LIBRARY ${_lib} HINTS ${_poplar_hints} PATH_SUFFIXES lib)
  list(APPEND _poplar_libraries ${_upper}_LIBRARY)
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Poplar DEFAULT_MSG POPLAR_INCLUDE_DIR ${_poplar_libraries})
if(Poplar_FOUND AND NOT TARGET Poplar::Poplar)
  add_library(Poplar::Poplar INTERFACE IMPORTED)
  set(_poplar_link)
  foreach(_var ${_poplar_libraries})
    list(APPEND _poplar_link ${${_var}})
  endforeach()
  set_target_properties(Poplar::Poplar PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${POPLAR_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${_poplar_link}")
endif()
