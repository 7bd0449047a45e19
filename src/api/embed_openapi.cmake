# Turns api/openapi.yaml into a header holding it as a raw string literal.
file(READ ${INPUT} CONTENT)
file(WRITE ${OUTPUT} "// Generated from api/openapi.yaml by embed_openapi.cmake; do not edit.\n#pragma once\n#include <string_view>\nnamespace falaj::api {\ninline constexpr std::string_view kOpenApiDocument = R\"openapi_yaml(${CONTENT})openapi_yaml\";\n}\n")
