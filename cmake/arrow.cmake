# Apache Arrow and Parquet C++ from the pyarrow wheel (PyPI), which bundles the C++ libraries
# and headers; Debian 12 packages neither. scripts/install-deps installs the wheel into .venv.
# See docs/decisions/0005-arrow-from-the-pyarrow-wheel.md.
#
# Defines Arrow::arrow and Arrow::parquet (imported shared libraries, RPATH to the wheel) and
# checks the C++ ABI: the wheel is built with the new libstdc++ string ABI, as g++ 12 is.
set(FALAJ_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python whose pyarrow provides the Arrow C++ libraries")
execute_process(
  COMMAND "${FALAJ_PYTHON}" -c
          "import pyarrow as p; print(p.get_include()); print(p.get_library_dirs()[0]); print(p.cpp_build_info.so_version)"
  OUTPUT_VARIABLE _falaj_pyarrow_out RESULT_VARIABLE _falaj_pyarrow_rc
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _falaj_pyarrow_rc EQUAL 0)
  message(FATAL_ERROR "pyarrow not found in ${FALAJ_PYTHON}; run scripts/install-deps")
endif()
string(REPLACE "\n" ";" _falaj_pyarrow_lines "${_falaj_pyarrow_out}")
list(GET _falaj_pyarrow_lines 0 FALAJ_ARROW_INCLUDE_DIR)
list(GET _falaj_pyarrow_lines 1 FALAJ_ARROW_LIBRARY_DIR)
list(GET _falaj_pyarrow_lines 2 FALAJ_ARROW_SO_VERSION)
message(STATUS "Arrow C++ ${FALAJ_ARROW_SO_VERSION} from ${FALAJ_ARROW_LIBRARY_DIR}")

foreach(_lib arrow parquet arrow_compute)
  set(_path "${FALAJ_ARROW_LIBRARY_DIR}/lib${_lib}.so.${FALAJ_ARROW_SO_VERSION}")
  if(NOT EXISTS "${_path}")
    message(FATAL_ERROR "${_path} is missing from the pyarrow wheel")
  endif()
  add_library(Arrow::${_lib} SHARED IMPORTED GLOBAL)
  # SYSTEM: Arrow's headers are not ours to keep warning-free under -Werror.
  set_target_properties(Arrow::${_lib} PROPERTIES
    IMPORTED_LOCATION "${_path}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${FALAJ_ARROW_INCLUDE_DIR}"
    INTERFACE_INCLUDE_DIRECTORIES "${FALAJ_ARROW_INCLUDE_DIR}")
endforeach()
set_property(TARGET Arrow::parquet PROPERTY INTERFACE_LINK_LIBRARIES Arrow::arrow)
set_property(TARGET Arrow::arrow_compute PROPERTY INTERFACE_LINK_LIBRARIES Arrow::arrow)

# A wheel built with the old string ABI would link and then crash on the first std::string.
try_compile(_falaj_arrow_abi_ok
  SOURCE_FROM_CONTENT arrow_abi_check.cc
  "#include <arrow/api.h>\nint main() { return arrow::field(\"x\", arrow::int64())->name() == \"x\" ? 0 : 1; }\n"
  LINK_LIBRARIES Arrow::arrow
  CXX_STANDARD 23)
if(NOT _falaj_arrow_abi_ok)
  message(FATAL_ERROR "Arrow C++ from ${FALAJ_ARROW_LIBRARY_DIR} does not link with ${CMAKE_CXX_COMPILER}: C++ ABI mismatch?")
endif()
