set(FALAJ_RUNTIME_SOURCES linear_runtime.cc)
set(FALAJ_RUNTIME_DEPS)
set(FALAJ_RUNTIME_TESTS linear_runtime_test.cc)
