# cmake/check_snippets.cmake - README.md shows every examples/snippets/*.cpp verbatim.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
# Usage: cmake -DREADME=README.md -DSNIPPETS=examples/snippets [-DMARKER_DIR=examples/snippets]
#              -P cmake/check_snippets.cmake
# Each snippet must appear in README.md as (MARKER_DIR, by default examples/snippets)
#   <!-- snippet: examples/snippets/NAME.cpp -->
#   ```cpp
#   ...the file, byte for byte...
#   ```
# so that the code a reader copies is the code CI compiled and ran.
if(NOT DEFINED MARKER_DIR)
  set(MARKER_DIR examples/snippets)
endif()
file(READ "${README}" readme)
file(GLOB snippets "${SNIPPETS}/*.cpp")
set(failed 0)
foreach(path IN LISTS snippets)
  get_filename_component(name "${path}" NAME)
  file(READ "${path}" code)
  set(block "<!-- snippet: ${MARKER_DIR}/${name} -->\n```cpp\n${code}```\n")
  string(FIND "${readme}" "${block}" at)
  if(at EQUAL -1)
    message(SEND_ERROR "README.md does not show ${MARKER_DIR}/${name} verbatim: put the "
            "file's exact text in a ```cpp block right under the line "
            "<!-- snippet: ${MARKER_DIR}/${name} -->")
    set(failed 1)
  endif()
endforeach()
string(REGEX MATCHALL "<!-- snippet: ${MARKER_DIR}/[^ /]+ -->" markers "${readme}")
foreach(marker IN LISTS markers)
  string(REGEX REPLACE "<!-- snippet: ${MARKER_DIR}/([^ ]+) -->" "\\1" name "${marker}")
  if(NOT EXISTS "${SNIPPETS}/${name}")
    message(SEND_ERROR "README.md names ${marker} but ${MARKER_DIR}/${name} does not exist")
    set(failed 1)
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "README snippets out of date (see above)")
endif()
list(LENGTH snippets count)
message(STATUS "README shows all ${count} snippets verbatim")
