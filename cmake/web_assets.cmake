# web_assets.cmake - compiles the dashboard's files (web/*) into cs_core, so the
# binary serves them without anything on disk. Regenerated when a file changes.
file(GLOB CS_WEB_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/web/*)
set(CS_WEB_ASSETS_C ${CMAKE_BINARY_DIR}/generated/web_assets_data.c)
add_custom_command(
  OUTPUT ${CS_WEB_ASSETS_C}
  COMMAND ${CMAKE_COMMAND} -DSRC_DIR=${CMAKE_SOURCE_DIR}/web -DOUT=${CS_WEB_ASSETS_C}
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake
  DEPENDS ${CS_WEB_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_assets.cmake
  COMMENT "Embedding web/ assets"
  VERBATIM)
target_sources(cs_core PRIVATE ${CS_WEB_ASSETS_C})
