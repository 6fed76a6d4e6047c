
list(APPEND NEGOEX_SOURCES src/checksum.c)
list(APPEND NEGOEX_SOURCES src/buf.c)
list(APPEND NEGOEX_SOURCES src/schemes/test_scheme.c)
list(APPEND NEGOEX_SOURCES src/context.c)
