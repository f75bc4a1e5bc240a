# Points find_package(Torch) at the libtorch inside the PyTorch that python3 imports: the
# usual way to get a CUDA libtorch on a GPU machine (pip or conda PyTorch). Refuses, saying
# why, a PyTorch without CMake files (Debian's python3-torch ships none: its libtorch is
# libtorch-dev's) and one built with the old C++ ABI, whose std::string differs from that of
# every Debian library the agent links (spdlog, fmt, yaml-cpp, zmq): it would not link.
function(wattfleet_torch_from_python)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c
            "import torch; print(torch.utils.cmake_prefix_path); print(int(torch.compiled_with_cxx11_abi()))"
    OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "WATTFLEET_TORCH_FROM_PYTHON: ${Python3_EXECUTABLE} cannot import torch: ${err}")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  list(GET lines 0 prefix)
  list(GET lines 1 cxx11_abi)
  if(NOT EXISTS "${prefix}/Torch/TorchConfig.cmake")
    message(FATAL_ERROR
      "WATTFLEET_TORCH_FROM_PYTHON: the PyTorch of ${Python3_EXECUTABLE} has no CMake files in "
      "${prefix}/Torch (Debian's python3-torch ships none; its libtorch is libtorch-dev, found "
      "without this option). Install a PyTorch that has them, or set Torch_DIR.")
  endif()
  if(NOT cxx11_abi)
    message(FATAL_ERROR
      "WATTFLEET_TORCH_FROM_PYTHON: the PyTorch in ${prefix} was built with the pre-C++11 ABI "
      "(torch.compiled_with_cxx11_abi() is False) and cannot link with Debian's libraries. "
      "Use a cxx11-ABI build (PyTorch 2.7 or later from pip, or libtorch's cxx11-abi archive "
      "with Torch_DIR).")
  endif()
  message(STATUS "libtorch from ${Python3_EXECUTABLE}'s PyTorch: ${prefix}")
  set(CMAKE_PREFIX_PATH "${prefix};${CMAKE_PREFIX_PATH}" PARENT_SCOPE)
endfunction()
