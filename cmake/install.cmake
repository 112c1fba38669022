# `cmake --install`: the four libraries with their headers (include/cnnlab/<area>/*.h), the
# cnnlab program with the engine library it runs on, a CMake package (cnnlabConfig.cmake,
# its version file and the imported targets cnnlab::core ... cnnlab::cnnlab) and cnnlab.pc.
# And `cpack -G DEB`: packages cnnlab (the program, the runtime libraries) and libcnnlab-dev
# (headers, CMake and pkg-config files).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CNNLAB_LIBRARY_AREAS core layers optim data)
foreach(area IN LISTS CNNLAB_LIBRARY_AREAS)
  set_target_properties(cnnlab_${area} PROPERTIES EXPORT_NAME ${area})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${area}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cnnlab/${area}
          COMPONENT dev FILES_MATCHING PATTERN "*.h")
endforeach()
# One target for all four, as a consumer usually wants.
add_library(cnnlab_all INTERFACE)
set_target_properties(cnnlab_all PROPERTIES EXPORT_NAME cnnlab)
target_link_libraries(cnnlab_all INTERFACE cnnlab_core cnnlab_layers cnnlab_optim cnnlab_data)

install(TARGETS cnnlab_core cnnlab_layers cnnlab_optim cnnlab_data cnnlab_all
        EXPORT cnnlabTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cnnlab)
# The program and the engine it runs on: installed, not part of the package's targets.
install(TARGETS cnnlab cnnlab_engine
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime)

set(CNNLAB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cnnlab)
install(EXPORT cnnlabTargets NAMESPACE cnnlab:: DESTINATION ${CNNLAB_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cnnlabConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cnnlabConfig.cmake
                              INSTALL_DESTINATION ${CNNLAB_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cnnlabConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cnnlabConfig.cmake ${PROJECT_BINARY_DIR}/cnnlabConfigVersion.cmake
        DESTINATION ${CNNLAB_CMAKE_DIR} COMPONENT dev)
# The .pc finds the prefix from its own folder, so an install anywhere (--prefix) works.
file(RELATIVE_PATH CNNLAB_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" CNNLAB_PC_TO_PREFIX "${CNNLAB_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/cnnlab.pc.in ${PROJECT_BINARY_DIR}/cnnlab.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cnnlab.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)

# Debian packages: cnnlab (runtime) and libcnnlab-dev (dev, depending on cnnlab).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cnnlab)
set(CPACK_PACKAGE_CONTACT "cnnlab maintainers <cnnlab@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "A small, fast CNN training framework in C++20")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME cnnlab)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcnnlab-dev)
set(CPACK_DEBIAN_RUNTIME_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_DEV_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "cnnlab (= ${PROJECT_VERSION}), libyaml-cpp-dev")
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
include(CPack)
