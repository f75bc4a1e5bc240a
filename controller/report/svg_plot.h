// A small SVG chart writer for the HTML report (`wattfleet report`): scatter, line, column
// (histogram-style) and horizontal bar charts, each a self-contained <svg> element with a
// title, axes with nice ticks on linear or log scales, axis labels and, where series have
// names, a legend below the plot. No scripts, no external references.
//
// Every text that reaches the output goes through Escape(), so names read from a dataset
// cannot inject markup. Output is well-formed XML meant for inline use in HTML5, which needs
// no namespace declaration (so the document names no URL at all). Colours are "#rrggbb"
// strings; marks are drawn opaque in exactly that colour.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "svg_axis.h"

namespace wattfleet::svg {

// Text for XML character data and attribute values: & < > " ' as entities; control
// characters other than tab and newline (invalid in XML) dropped.
std::string Escape(std::string_view text);

struct Axis {
  std::string label;  // with the unit, e.g. "measured energy per iteration (J)"
  ScaleType scale = ScaleType::kLinear;
  // Fixed ends of the domain; NaN: fitted to the data on tick boundaries.
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
};

struct PlotOptions {
  std::string id;     // the <svg> element's id: unique in the document
  std::string title;  // drawn at the top
  std::string note;   // a smaller line under the title (e.g. what was left out); may be empty
  Axis x, y;
  int width = 380;
  int height = 300;  // of the figure without its legend (bar charts size to their rows)
  // The unit of a stacked bar's values ("J", "jobs"): totals and tooltips are written with
  // it and a fitting prefix (4.6 mJ). Empty: bare numbers.
  std::string value_unit;
};

struct Series {
  std::string name;    // legend entry; empty: not in the legend
  std::string colour;  // "#rrggbb"
  std::vector<double> x, y;
  // Scatter plots: each point's name (architecture, batch, device), its <title> tooltip;
  // empty, or one per point.
  std::vector<std::string> labels = {};
  // Scatter plots: open circles instead of filled ones (measurements shown but doubted: those
  // with quality flags).
  bool hollow = false;
};

// Points as filled circles (open ones for a `hollow` series). `identity` adds the dashed line y = x (for measured vs
// predicted). Points outside a log axis's domain (<= 0, not finite) are not drawn.
std::string ScatterPlot(const PlotOptions& options, const std::vector<Series>& series,
                        bool identity);

// Each series as a polyline through its points in order; with `steps`, as a step function
// that jumps at each x (an empirical CDF, a running count).
std::string LinePlot(const PlotOptions& options, const std::vector<Series>& series, bool steps);

// Columns over the intervals [edges[i], edges[i + 1]] with heights[i]: a histogram, or one
// value per time bin. Needs edges.size() == heights.size() + 1 (otherwise only the axes).
std::string ColumnPlot(const PlotOptions& options, const std::vector<double>& edges,
                       const std::vector<double>& heights, const std::string& colour);

struct Bar {
  std::string label;       // the category, left of the bar
  double value = 0;
  std::string annotation;  // written right of the bar's end (e.g. the value with its unit)
};

// One horizontal bar per category, top to bottom in the given order, along options.x (a
// linear axis from 0). The height follows from the number of bars.
std::string BarChart(const PlotOptions& options, const std::vector<Bar>& bars,
                     const std::string& colour);

struct StackedBar {
  std::string label;
  std::vector<double> values;  // one per segment, in the order of the segment names
};

// Horizontal bars split into coloured segments (e.g. a campaign's jobs by state), with a
// legend of the segments that occur. The height follows from the number of bars.
std::string StackedBarChart(const PlotOptions& options, const std::vector<std::string>& segments,
                            const std::vector<std::string>& colours,
                            const std::vector<StackedBar>& bars);

}  // namespace wattfleet::svg
