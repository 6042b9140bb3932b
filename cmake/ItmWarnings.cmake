# Compiler flags shared by every target.
add_compile_options(-Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
                    -Wmissing-prototypes -Wstrict-prototypes
                    -fno-strict-aliasing)
add_compile_definitions(_GNU_SOURCE)
if(ITM_WERROR)
  add_compile_options(-Werror)
endif()
if(ITM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
