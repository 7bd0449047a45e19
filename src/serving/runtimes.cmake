# The runtimes' sources, the libraries they link and their tests, for src/serving/CMakeLists.txt.
#   linear   — our small JSON linear/logistic format
#   xgboost  — libxgboost's C API (Debian's libxgboost-dev, 1.7)
#   trees    — our compiled tree ensembles, read from XGBoost's JSON/UBJ model files
set(FALAJ_RUNTIME_SOURCES
    linear_runtime.cc
    xgboost_runtime.cc
    xgboost_model_reader.cc
    ubjson_decoder.cc
    tree_ensemble.cc
    trees_runtime.cc)
set(FALAJ_RUNTIME_DEPS xgboost)
set(FALAJ_RUNTIME_TESTS
    linear_runtime_test.cc
    xgboost_model_reader_test.cc
    tree_ensemble_test.cc
    trees_runtime_test.cc
    xgboost_runtime_test.cc
    xgboost_fixtures_test.cc)
