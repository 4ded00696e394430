# FT5_SANITIZE=ON builds everything with AddressSanitizer and UndefinedBehaviorSanitizer; UB aborts,
# so a test that triggers it fails instead of printing a warning nobody reads.
option(FT5_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(FT5_SANITIZE)
  # -O1 (after the build type's -O3, so it wins): the sanitizers' usual level. These builds check memory and undefined
  # behaviour, not speed, and compile about a quarter faster; without -march or fast-math the results are the same.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1)
  add_link_options(-fsanitize=address,undefined)
endif()
