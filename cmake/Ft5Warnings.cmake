# Strict warnings for every ft5 target: the project builds warning-free or not at all.
function(ft5_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow=local -Wnon-virtual-dtor)
endfunction()
