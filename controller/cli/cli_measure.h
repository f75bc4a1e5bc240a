// `wattfleet measure -- CMD ARGS...` (docs/design/cli.md): the energy and time of a command,
// read with the agent's meters around it, and the idle power measured just before.
#pragma once

#include <string>
#include <vector>

namespace wattfleet {

struct MeasureOptions {
  std::string sensor = "auto";
  std::string device = "cpu";  // "cuda:N" to read GPU N's NVML counter
  double modeled_core_w = 0;   // the modeled meter's power per busy core (0: its default)
  double idle_s = 1.0;         // idle power measured for this long first; 0: not measured
  bool json = false;
  std::string db;                   // store the window here too (kind `window`); empty: not
  std::string campaign = "windows";  // the campaign it is stored under
  std::string name;  // the window's name; empty: WindowName(command)
  std::vector<std::string> command;
};

// Runs the command with stdin, stdout and stderr inherited, and reports its energy on stderr;
// with `json`, one document on stdout, and the command's stdout goes to stderr. Exit code: the command's own when it ran and was
// measured; 127 when it cannot be started; 2 for bad options or a sensor that cannot be
// opened; 1 when the sensor failed during the run (the command's code is then in the
// message).
int CmdMeasure(const MeasureOptions& options);

// What a window around `command` is called: the program's file name, or for an interpreter
// (python, bash, node, ...) the script it runs (`python3 train.py` is "train.py", `python3
// -m pkg.train` is "pkg.train"); the interpreter's name when it runs inline code.
std::string WindowName(const std::vector<std::string>& command);

}  // namespace wattfleet
