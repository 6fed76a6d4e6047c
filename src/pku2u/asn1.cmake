# PKU2U ASN.1 schemas: each src/pku2u/<module>.asn becomes a libtasn1 node
# array negoex_<module>_asn1_tab in <build>/pku2u_asn1/<module>_asn1_tab.c
# (asn1Parser, Debian package libtasn1-bin), compiled into negoex_objs.
# Included from the top-level CMakeLists.txt after negoex_objs exists.
find_program(NEGOEX_ASN1PARSER asn1Parser)
if(NOT NEGOEX_ASN1PARSER)
  message(FATAL_ERROR "asn1Parser not found: install libtasn1-bin (scripts/install-deps)")
endif()

set(NEGOEX_ASN1_MODULES krb5 pkinit cms pku2u)
set(NEGOEX_ASN1_GENERATED)
foreach(mod ${NEGOEX_ASN1_MODULES})
  set(asn ${CMAKE_CURRENT_SOURCE_DIR}/src/pku2u/${mod}.asn)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/pku2u_asn1/${mod}_asn1_tab.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/pku2u_asn1
    COMMAND ${NEGOEX_ASN1PARSER} -o ${out} -n negoex_${mod}_asn1_tab ${asn}
    DEPENDS ${asn}
    COMMENT "asn1Parser ${mod}.asn"
    VERBATIM)
  list(APPEND NEGOEX_ASN1_GENERATED ${out})
endforeach()
target_sources(negoex_objs PRIVATE ${NEGOEX_ASN1_GENERATED})
