# The KServe v2 gRPC transport: C++ code generated from proto/grpc_predict_v2.proto at build
# time (never committed) and the falaj_grpc_api library that serves it. gRPC and protobuf
# headers stay inside this library's .cc files and the generated files, so nothing that
# includes api/grpc_server.h pays for them.
find_package(gRPC CONFIG REQUIRED)
find_program(FALAJ_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(FALAJ_GRPC_PROTO ${PROJECT_SOURCE_DIR}/proto/grpc_predict_v2.proto)
set(FALAJ_GRPC_GENERATED_DIR ${CMAKE_CURRENT_BINARY_DIR}/generated/grpc)
set(FALAJ_GRPC_GENERATED
    ${FALAJ_GRPC_GENERATED_DIR}/grpc_predict_v2.pb.cc
    ${FALAJ_GRPC_GENERATED_DIR}/grpc_predict_v2.pb.h
    ${FALAJ_GRPC_GENERATED_DIR}/grpc_predict_v2.grpc.pb.cc
    ${FALAJ_GRPC_GENERATED_DIR}/grpc_predict_v2.grpc.pb.h)
add_custom_command(
  OUTPUT ${FALAJ_GRPC_GENERATED}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${FALAJ_GRPC_GENERATED_DIR}
  COMMAND protobuf::protoc --proto_path=${PROJECT_SOURCE_DIR}/proto
          --cpp_out=${FALAJ_GRPC_GENERATED_DIR} --grpc_out=${FALAJ_GRPC_GENERATED_DIR}
          --plugin=protoc-gen-grpc=${FALAJ_GRPC_CPP_PLUGIN} ${FALAJ_GRPC_PROTO}
  DEPENDS ${FALAJ_GRPC_PROTO} protobuf::protoc
  COMMENT "Generating the KServe v2 gRPC code"
  VERBATIM)

add_library(falaj_grpc_api STATIC ${CMAKE_CURRENT_LIST_DIR}/grpc_server.cc
                                  ${CMAKE_CURRENT_LIST_DIR}/grpc_infer_codec.cc ${FALAJ_GRPC_GENERATED})
target_include_directories(falaj_grpc_api PUBLIC ${PROJECT_SOURCE_DIR}/src)
# SYSTEM: generated code is not ours to keep warning-free under -Wextra -Werror.
target_include_directories(falaj_grpc_api SYSTEM PRIVATE ${FALAJ_GRPC_GENERATED_DIR})
target_compile_definitions(falaj_grpc_api PRIVATE FALAJ_VERSION="${PROJECT_VERSION}")
target_link_libraries(falaj_grpc_api PUBLIC falaj_security falaj_serving PRIVATE gRPC::grpc++
                      protobuf::libprotobuf)

falaj_test(grpc_api_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/grpc_server_test.cc
  DEPS falaj_grpc_api gRPC::grpc++ protobuf::libprotobuf)
if(TARGET grpc_api_test)
  # The test talks to the server through a generated client stub.
  target_include_directories(grpc_api_test SYSTEM PRIVATE ${FALAJ_GRPC_GENERATED_DIR})
endif()
