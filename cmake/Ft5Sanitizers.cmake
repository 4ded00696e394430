# FT5_SANITIZE=ON builds everything with AddressSanitizer and UndefinedBehaviorSanitizer; UB aborts,
# so a test that triggers it fails instead of printing a warning nobody reads.
option(FT5_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(FT5_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
