
list(APPEND NEGOEX_SOURCES src/checksum.c)
list(APPEND NEGOEX_SOURCES src/buf.c)
