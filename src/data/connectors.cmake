# Data-source connectors: MQTT (Eclipse Paho C++) and PostgreSQL (libpq). Included by
# src/data/CMakeLists.txt, which adds FALAJ_DATA_CONNECTOR_SOURCES to falaj_data and links
# FALAJ_DATA_CONNECTOR_DEPS.
#
# PahoMqttCpp::paho-mqttpp3 names the Paho C library as its interface dependency
# (PahoMqttC::PahoMqttC, found by the package's FindPahoMqttC.cmake: libpaho-mqtt3as, the
# asynchronous TLS build that libpaho-mqttpp3.so itself links, with OpenSSL). It is listed here
# as well so the dependency on the C library is visible rather than transitive.
set(FALAJ_DATA_CONNECTOR_SOURCES
    mqtt_config.cc
    mqtt_source.cc
    postgres_source.cc)
set(FALAJ_DATA_CONNECTOR_DEPS
    PahoMqttCpp::paho-mqttpp3
    PahoMqttC::PahoMqttC
    PostgreSQL::PostgreSQL)

# Both suites start real servers (Mosquitto, PostgreSQL 15) in temporary directories.
falaj_test(data_connectors_test
  SOURCES mqtt_source_test.cc postgres_source_test.cc
  DEPS falaj_data)
