# Data quality: validation rules, the validator, column profiles, and their internal helpers.
# Included by src/data/CMakeLists.txt, which builds falaj_data from FALAJ_DATA_QUALITY_SOURCES and
# data_quality_test from FALAJ_DATA_QUALITY_TESTS.
set(FALAJ_DATA_QUALITY_SOURCES
    arrow_columns.cc
    batch_checks.cc
    column_profile.cc
    column_profile_json.cc
    hyperloglog.cc
    row_checks.cc
    unique_check.cc
    validation_rules.cc
    validator.cc
    validator_output.cc
    value_text.cc
    yaml_json.cc)
set(FALAJ_DATA_QUALITY_TESTS
    column_profile_test.cc
    validation_rules_test.cc
    validator_test.cc)
