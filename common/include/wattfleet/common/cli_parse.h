// Command-line parsing with the project's exit codes (docs/design/cli.md): --help and
// --version exit 0, a bad flag exits 2 with CLI11's message naming it. Header-only, for the two binaries that link CLI11.
#pragma once

#include <spdlog/common.h>

#include <cstdlib>

#include <CLI/CLI.hpp>

#include <optional>

namespace wattfleet {

// Coloured logs on a terminal, never where NO_COLOR is set to anything (no-color.org).
inline spdlog::color_mode LogColours() {
  const char* no_colour = std::getenv("NO_COLOR");
  return no_colour != nullptr && *no_colour != '\0' ? spdlog::color_mode::never
                                                     : spdlog::color_mode::automatic;
}

// nullopt when the command line parsed and the program goes on; otherwise the exit code.
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);  // prints the version on stdout
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message
    return 2;
  }
  return std::nullopt;
}

}  // namespace wattfleet
