# Install destinations that honour `cmake --install BUILD --prefix P`.
#
# GNUInstallDirs gives absolute CMAKE_INSTALL_FULL_* paths computed from the
# prefix at configure time; an install() rule with such a DESTINATION
# ignores --prefix and writes outside it.  itm_install_dest() turns a full
# path into a DESTINATION relative to the prefix when it lies under the
# configured prefix, and keeps it absolute only when it does not (/etc with
# -DCMAKE_INSTALL_PREFIX=/usr, an absolute ITM_PLUGIN_DIR elsewhere).
#
# itm_installed_path() gives, for a DESTINATION, the path the installed
# file has, as text to be evaluated by install(CODE) at install time
# (where CMAKE_INSTALL_PREFIX is the prefix in effect, without DESTDIR).

function(itm_install_dest var full)
  file(RELATIVE_PATH rel "${CMAKE_INSTALL_PREFIX}" "${full}")
  if(rel STREQUAL "" OR rel MATCHES "^\\.\\.(/|$)" OR IS_ABSOLUTE "${rel}")
    set(${var} "${full}" PARENT_SCOPE)
  else()
    set(${var} "${rel}" PARENT_SCOPE)
  endif()
endfunction()

function(itm_installed_path var dest)
  if(IS_ABSOLUTE "${dest}")
    set(${var} "${dest}" PARENT_SCOPE)
  else()
    set(${var} "\${CMAKE_INSTALL_PREFIX}/${dest}" PARENT_SCOPE)
  endif()
endfunction()
