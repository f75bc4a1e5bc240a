# Cross build for 64-bit ARM Linux (Jetson boards, Raspberry Pi 4/5, ARM servers) with Debian's
# cross compiler and the target's libraries installed as multiarch packages (pkg:arm64):
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DWATTFLEET_WITH_TORCH=OFF -DWATTFLEET_AGENT_ONLY=ON
#
# scripts/cross-build-aarch64.sh installs the packages and runs the build.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(WATTFLEET_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${WATTFLEET_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${WATTFLEET_CROSS_TRIPLET}-g++)

# Multiarch: the target's libraries and CMake package files live in /usr/lib/aarch64-linux-gnu,
# next to the build machine's (/usr/lib/x86_64-linux-gnu), and the architecture-independent
# headers and package files (/usr/include, /usr/share/cmake) are shared. Naming the library
# architecture makes find_library/find_package look in the aarch64 directories only.
set(CMAKE_LIBRARY_ARCHITECTURE ${WATTFLEET_CROSS_TRIPLET})

# The cross toolchain's own root (libc, libstdc++) and /, re-rooted: libraries, headers and
# packages are taken from these roots only, programs (pkg-config, ...) from the build machine.
# A -DCMAKE_FIND_ROOT_PATH=/opt/prefix on the command line (dependencies built by hand) is kept.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${WATTFLEET_CROSS_TRIPLET} /)
list(REMOVE_DUPLICATES CMAKE_FIND_ROOT_PATH)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must answer for the target: its .pc files, never the build machine's (whose
# -L/usr/lib/x86_64-linux-gnu would otherwise lead find_library to an x86-64 library).
find_program(WATTFLEET_CROSS_PKG_CONFIG NAMES ${WATTFLEET_CROSS_TRIPLET}-pkg-config)
if(WATTFLEET_CROSS_PKG_CONFIG)
  set(PKG_CONFIG_EXECUTABLE ${WATTFLEET_CROSS_PKG_CONFIG} CACHE FILEPATH "pkg-config for the target")
endif()
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/${WATTFLEET_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
