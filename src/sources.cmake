
list(APPEND NEGOEX_SOURCES src/checksum.c)
