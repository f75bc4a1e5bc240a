# wattfleet_add_test(NAME SOURCES... [LIBS libs...] [TIMEOUT s])
# One GoogleTest executable per test file, registered with ctest under a timeout so that a
# deadlock fails instead of hanging.
function(wattfleet_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main wattfleet_warnings)
  target_compile_definitions(${name} PRIVATE
    WATTFLEET_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
endfunction()
