// Layout: the title (and note) on top, the plot area, x tick labels and the x label below it,
// then the legend in rows; the y label rotated at the left edge. Text widths are estimated
// from a mean character advance (no font metrics without a browser), generously, so that
// labels are truncated with an ellipsis rather than overlap.
#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wattfleet::svg {
namespace {

constexpr double kCharPx = 6.4;       // mean advance of 11 px sans-serif text
constexpr double kTitleCharPx = 7.6;  // of the 13 px bold title
constexpr double kLegendRowPx = 17;
constexpr double kBarRowPx = 22;
constexpr const char* kAxisColour = "#444444";
constexpr const char* kGridColour = "#e4e4e4";
constexpr const char* kTextColour = "#222222";
constexpr const char* kMutedColour = "#555555";
constexpr const char* kIdentityColour = "#555555";

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", std::isfinite(v) ? v : 0.0);
  return buf;
}

// `text` cut to about `max_px` with an ellipsis, never inside a UTF-8 sequence.
// A label rotated along the left edge, spanning `span_px`: set smaller (down to 8 px) before
// it is cut, so that a long label stays whole.
std::string RotatedLabel(const std::string& label, double cy, double span_px);

std::string Fit(const std::string& text, double max_px, double char_px) {
  const size_t max_chars = static_cast<size_t>(std::max(1.0, max_px / char_px));
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (++chars > max_chars) {
      size_t cut = i;
      // Leave room for the ellipsis: drop one more character.
      do {
        --cut;
      } while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80);
      return text.substr(0, cut) + "\u2026";
    }
  }
  return text;
}

size_t Chars(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The note under the title in lines of at most `max_px`, broken at spaces; at most two
// lines, the second cut with an ellipsis if need be.
std::vector<std::string> NoteLines(const std::string& note, double max_px) {
  constexpr double kNoteCharPx = kCharPx * 0.95;  // 10.5 px text
  const size_t max_chars = static_cast<size_t>(std::max(1.0, max_px / kNoteCharPx));
  std::vector<std::string> lines;
  std::string rest = note;
  while (!rest.empty() && lines.size() < 2) {
    if (Chars(rest) <= max_chars || lines.size() == 1) {
      lines.push_back(Fit(rest, max_px, kNoteCharPx));
      break;
    }
    // The last space that keeps the line short enough (bytes >= characters, so the cut
    // found on bytes is never too long).
    size_t cut = rest.rfind(' ', max_chars);
    if (cut == std::string::npos || cut == 0) {
      cut = max_chars;
      while (cut > 0 && (static_cast<unsigned char>(rest[cut]) & 0xC0) == 0x80) --cut;
    }
    lines.push_back(rest.substr(0, cut));
    rest = rest.substr(cut + (rest[cut] == ' ' ? 1 : 0));
  }
  return lines;
}

struct LegendEntry {
  std::string name;
  std::string colour;
  enum Kind { kBox, kLine, kDashed, kDot, kRing } kind = kBox;
};

// The figure's geometry: the whole <svg> and its plot area.
struct Frame {
  double width = 0, height = 0;
  double left = 0, top = 0, right = 0, bottom = 0;
  std::vector<std::vector<LegendEntry>> legend_rows;
  double legend_top = 0;
};

double LegendEntryPx(const LegendEntry& e) { return 22 + kCharPx * Chars(e.name) + 16; }

// `plot_height`: the plot area's height when positive; otherwise the figure is
// options.height tall (legend excluded).
Frame Layout(const PlotOptions& o, double left_margin, double plot_height,
             const std::vector<LegendEntry>& legend) {
  Frame f;
  f.width = std::max(160, o.width);
  f.left = left_margin;
  f.right = f.width - 18;
  f.top = 32 + 14 * static_cast<double>(NoteLines(o.note, f.width - 16).size());
  if (plot_height > 0) {
    f.bottom = f.top + plot_height;
  } else {
    f.bottom = std::max(f.top + 60, static_cast<double>(o.height) - 44);
  }
  // Legend rows: entries left to right, wrapped at the figure's width.
  double x = 0;
  const double available = f.width - 20;
  for (const LegendEntry& e : legend) {
    const double w = LegendEntryPx(e);
    if (f.legend_rows.empty() || (x + w > available && x > 0)) {
      f.legend_rows.emplace_back();
      x = 0;
    }
    f.legend_rows.back().push_back(e);
    x += w;
  }
  f.legend_top = f.bottom + 52;
  f.height = f.legend_top + kLegendRowPx * static_cast<double>(f.legend_rows.size()) +
             (f.legend_rows.empty() ? 0 : 4);
  return f;
}

std::string Header(const PlotOptions& o, const Frame& f) {
  std::string s = "<svg class=\"wf-plot\"";
  if (!o.id.empty()) s += " id=\"" + Escape(o.id) + "\"";
  s += " width=\"" + Num(f.width) + "\" height=\"" + Num(f.height) + "\" viewBox=\"0 0 " +
       Num(f.width) + " " + Num(f.height) +
       "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">";
  s += "<title>" + Escape(o.title) + "</title>";
  s += "<rect x=\"0\" y=\"0\" width=\"" + Num(f.width) + "\" height=\"" + Num(f.height) +
       "\" fill=\"#ffffff\"/>";
  s += "<text x=\"" + Num(f.width / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" "
       "font-weight=\"bold\" fill=\"" + std::string(kTextColour) + "\">" +
       Escape(Fit(o.title, f.width - 16, kTitleCharPx)) + "</text>";
  double y = 33;
  for (const std::string& line : NoteLines(o.note, f.width - 16)) {
    s += "<text x=\"" + Num(f.width / 2) + "\" y=\"" + Num(y) +
         "\" text-anchor=\"middle\" font-size=\"10.5\" fill=\"" + kMutedColour + "\">" +
         Escape(line) + "</text>";
    y += 14;
  }
  return s;
}

std::string XAxis(const Frame& f, const Scale& x, const std::string& label, bool grid) {
  std::string s;
  for (double t : x.Ticks()) {
    const std::string px = Num(x.Map(t));
    if (grid) {
      s += "<line x1=\"" + px + "\" y1=\"" + Num(f.top) + "\" x2=\"" + px + "\" y2=\"" +
           Num(f.bottom) + "\" stroke=\"" + kGridColour + "\"/>";
    }
    s += "<line x1=\"" + px + "\" y1=\"" + Num(f.bottom) + "\" x2=\"" + px + "\" y2=\"" +
         Num(f.bottom + 4) + "\" stroke=\"" + kAxisColour + "\"/>";
    s += "<text x=\"" + px + "\" y=\"" + Num(f.bottom + 16) + "\" text-anchor=\"middle\" fill=\"" +
         kTextColour + "\">" + Escape(FormatTick(t)) + "</text>";
  }
  s += "<text x=\"" + Num((f.left + f.right) / 2) + "\" y=\"" + Num(f.bottom + 34) +
       "\" text-anchor=\"middle\" fill=\"" + kTextColour + "\">" +
       Escape(Fit(label, f.width - 10, kCharPx)) + "</text>";
  return s;
}

std::string YAxis(const Frame& f, const Scale& y, const std::string& label) {
  std::string s;
  for (double t : y.Ticks()) {
    const std::string py = Num(y.Map(t));
    s += "<line x1=\"" + Num(f.left) + "\" y1=\"" + py + "\" x2=\"" + Num(f.right) + "\" y2=\"" +
         py + "\" stroke=\"" + kGridColour + "\"/>";
    s += "<line x1=\"" + Num(f.left - 4) + "\" y1=\"" + py + "\" x2=\"" + Num(f.left) +
         "\" y2=\"" + py + "\" stroke=\"" + kAxisColour + "\"/>";
    s += "<text x=\"" + Num(f.left - 7) + "\" y=\"" + Num(y.Map(t) + 4) +
         "\" text-anchor=\"end\" fill=\"" + kTextColour + "\">" + Escape(FormatTick(t)) +
         "</text>";
  }
  const double cy = (f.top + f.bottom) / 2;
  s += RotatedLabel(label, cy, f.bottom - f.top + 30);
  return s;
}

// The plot area's frame, the legend and the end of the element.
std::string Footer(const Frame& f) {
  std::string s = "<rect x=\"" + Num(f.left) + "\" y=\"" + Num(f.top) + "\" width=\"" +
                  Num(f.right - f.left) + "\" height=\"" + Num(f.bottom - f.top) +
                  "\" fill=\"none\" stroke=\"" + kAxisColour + "\"/>";
  double y = f.legend_top;
  for (const auto& row : f.legend_rows) {
    double width = 0;
    for (const LegendEntry& e : row) width += LegendEntryPx(e);
    double x = std::max(4.0, (f.width - width) / 2);
    for (const LegendEntry& e : row) {
      const std::string colour = Escape(e.colour);
      const std::string cy = Num(y - 4);
      switch (e.kind) {
        case LegendEntry::kBox:
          s += "<rect x=\"" + Num(x) + "\" y=\"" + Num(y - 10) +
               "\" width=\"12\" height=\"12\" fill=\"" + colour + "\"/>";
          break;
        case LegendEntry::kDot:
          s += "<circle cx=\"" + Num(x + 6) + "\" cy=\"" + cy + "\" r=\"4\" fill=\"" + colour +
               "\"/>";
          break;
        case LegendEntry::kRing:
          s += "<circle cx=\"" + Num(x + 6) + "\" cy=\"" + cy + "\" r=\"4\" fill=\"none\" stroke=\"" +
               colour + "\" stroke-width=\"1.5\"/>";
          break;
        case LegendEntry::kLine:
        case LegendEntry::kDashed:
          s += "<line x1=\"" + Num(x) + "\" y1=\"" + cy + "\" x2=\"" + Num(x + 16) + "\" y2=\"" +
               cy + "\" stroke=\"" + colour + "\" stroke-width=\"2\"" +
               (e.kind == LegendEntry::kDashed ? " stroke-dasharray=\"4 3\"" : "") + "/>";
          break;
      }
      s += "<text x=\"" + Num(x + 22) + "\" y=\"" + Num(y) + "\" fill=\"" + kTextColour + "\">" +
           Escape(e.name) + "</text>";
      x += LegendEntryPx(e);
    }
    y += kLegendRowPx;
  }
  return s + "</svg>";
}

bool Usable(double v, ScaleType type) {
  return std::isfinite(v) && (type == ScaleType::kLinear || v > 0);
}

// The scale of an axis over `values` (those the axis can show), honouring fixed ends.
Scale AxisScale(const Axis& axis, const std::vector<const std::vector<double>*>& values,
                double range_lo, double range_hi) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* v : values) {
    for (double x : *v) {
      if (!Usable(x, axis.scale)) continue;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (!std::isnan(axis.min)) lo = axis.min;
  if (!std::isnan(axis.max)) hi = axis.max;
  if (!std::isnan(axis.min) && !std::isnan(axis.max)) {
    return Scale(axis.scale, lo, hi, range_lo, range_hi);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = axis.scale == ScaleType::kLog ? 1 : 0;
    hi = axis.scale == ScaleType::kLog ? 10 : 1;
  }
  return Scale::Fitted(axis.scale, lo, hi, range_lo, range_hi);
}

std::vector<LegendEntry> SeriesLegend(const std::vector<Series>& series, LegendEntry::Kind kind) {
  std::vector<LegendEntry> legend;
  for (const Series& s : series) {
    if (s.name.empty()) continue;
    legend.push_back({s.name, s.colour, s.hollow && kind == LegendEntry::kDot
                                            ? LegendEntry::kRing
                                            : kind});
  }
  return legend;
}

constexpr double kNumericLeft = 72;  // room for tick labels and the rotated y label

// The x and y scales that hold every series' points inside the frame.
std::pair<Scale, Scale> SeriesScales(const PlotOptions& o, const std::vector<Series>& series,
                                     const Frame& f) {
  std::vector<const std::vector<double>*> xs, ys;
  for (const Series& s : series) {
    xs.push_back(&s.x);
    ys.push_back(&s.y);
  }
  return {AxisScale(o.x, xs, f.left, f.right), AxisScale(o.y, ys, f.bottom, f.top)};
}

}  // namespace

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') break;
        out += c;
    }
  }
  return out;
}

std::string ScatterPlot(const PlotOptions& o, const std::vector<Series>& series, bool identity) {
  std::vector<LegendEntry> legend = SeriesLegend(series, LegendEntry::kDot);
  if (identity) legend.push_back({"y = x", kIdentityColour, LegendEntry::kDashed});
  const Frame f = Layout(o, kNumericLeft, 0, legend);
  const auto [x, y] = SeriesScales(o, series, f);
  std::string s = Header(o, f) + XAxis(f, x, o.x.label, true) + YAxis(f, y, o.y.label);
  if (identity) {
    const double lo = std::max(x.domain_lo(), y.domain_lo());
    const double hi = std::min(x.domain_hi(), y.domain_hi());
    if (hi > lo) {
      s += "<line x1=\"" + Num(x.Map(lo)) + "\" y1=\"" + Num(y.Map(lo)) + "\" x2=\"" +
           Num(x.Map(hi)) + "\" y2=\"" + Num(y.Map(hi)) + "\" stroke=\"" + kIdentityColour +
           "\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>";
    }
  }
  for (const Series& ser : series) {
    s += ser.hollow ? "<g fill=\"none\" stroke=\"" + Escape(ser.colour) + "\" stroke-width=\"1.5\">"
                    : "<g fill=\"" + Escape(ser.colour) + "\">";
    for (size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
      if (!Usable(ser.x[i], o.x.scale) || !Usable(ser.y[i], o.y.scale)) continue;
      s += "<circle cx=\"" + Num(x.Map(ser.x[i])) + "\" cy=\"" + Num(y.Map(ser.y[i])) +
           "\" r=\"3.5\"";
      // A point's name, shown by browsers on hover.
      s += i < ser.labels.size() && !ser.labels[i].empty()
               ? "><title>" + Escape(ser.labels[i]) + "</title></circle>"
               : "/>";
    }
    s += "</g>";
  }
  return s + Footer(f);
}

std::string LinePlot(const PlotOptions& o, const std::vector<Series>& series, bool steps) {
  const Frame f = Layout(o, kNumericLeft, 0, SeriesLegend(series, LegendEntry::kLine));
  const auto [x, y] = SeriesScales(o, series, f);
  std::string s = Header(o, f) + XAxis(f, x, o.x.label, true) + YAxis(f, y, o.y.label);
  for (const Series& ser : series) {
    std::string d;
    for (size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
      if (!Usable(ser.x[i], o.x.scale) || !Usable(ser.y[i], o.y.scale)) continue;
      const std::string px = Num(x.Map(ser.x[i])), py = Num(y.Map(ser.y[i]));
      if (d.empty()) {
        d = "M" + px + " " + py;
      } else if (steps) {
        d += "H" + px + "V" + py;
      } else {
        d += "L" + px + " " + py;
      }
    }
    if (d.empty()) continue;
    s += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + Escape(ser.colour) +
         "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>";
  }
  return s + Footer(f);
}

std::string ColumnPlot(const PlotOptions& o, const std::vector<double>& edges,
                       const std::vector<double>& heights, const std::string& colour) {
  const Frame f = Layout(o, kNumericLeft, 0, {});
  const Scale x = AxisScale(o.x, {&edges}, f.left, f.right);
  std::vector<double> with_zero = heights;
  with_zero.push_back(0);  // columns rise from 0
  const Scale y = AxisScale(o.y, {&with_zero}, f.bottom, f.top);
  std::string s = Header(o, f) + XAxis(f, x, o.x.label, false) + YAxis(f, y, o.y.label);
  if (edges.size() == heights.size() + 1) {
    s += "<g fill=\"" + Escape(colour) + "\">";
    const double base = y.Map(std::max(0.0, y.domain_lo()));
    for (size_t i = 0; i < heights.size(); ++i) {
      if (!std::isfinite(heights[i]) || heights[i] <= 0) continue;
      const double x0 = x.Map(edges[i]), x1 = x.Map(edges[i + 1]);
      const double top = std::max(f.top, y.Map(heights[i]));
      s += "<rect x=\"" + Num(x0) + "\" y=\"" + Num(top) + "\" width=\"" +
           Num(std::max(0.5, x1 - x0)) + "\" height=\"" + Num(std::max(0.0, base - top)) + "\"/>";
    }
    s += "</g>";
  }
  return s + Footer(f);
}

namespace {

// Shared by the two bar charts: category labels on the left, a linear axis from 0 along x,
// one row per bar; `annotation_px` kept free at the right for the texts after the bars.
struct BarFrame {
  Frame frame;
  Scale x;
};

BarFrame BarLayout(const PlotOptions& o, const std::vector<std::string>& labels, double max_value,
                   double annotation_px, const std::vector<LegendEntry>& legend) {
  size_t longest = 0;
  for (const std::string& l : labels) longest = std::max(longest, Chars(l));
  // The category axis's label, when there is one, is rotated at the left edge.
  const double label_px = o.y.label.empty() ? 0 : 18;
  const double left =
      std::min(o.width * 0.42, 24 + label_px + kCharPx * static_cast<double>(longest));
  const Frame f = Layout(o, std::max(60.0, left),
                         kBarRowPx * static_cast<double>(std::max<size_t>(1, labels.size())) + 6,
                         legend);
  const double right = std::max(f.left + 40, f.right - annotation_px);
  Scale x = Scale::Fitted(ScaleType::kLinear, 0, max_value > 0 ? max_value : 1, f.left, right);
  if (!std::isnan(o.x.max)) x = Scale(ScaleType::kLinear, 0, o.x.max, f.left, right);
  return {f, x};
}

std::string CategoryAxisLabel(const Frame& f, const std::string& label) {
  if (label.empty()) return "";
  const double cy = (f.top + f.bottom) / 2;
  return RotatedLabel(label, cy, f.bottom - f.top + 30);
}

std::string RotatedLabel(const std::string& label, double cy, double span_px) {
  const double needed = kCharPx * static_cast<double>(Chars(label));
  // 2 % to spare, so that rounding in Fit() never cuts the last character.
  const double scale =
      needed > span_px ? std::max(8.0 / 11.0, span_px / (needed * 1.02)) : 1.0;
  const std::string size = scale < 1.0 ? " font-size=\"" + Num(11.0 * scale) + "\"" : "";
  return "<text x=\"14\" y=\"" + Num(cy) + "\" transform=\"rotate(-90 14 " + Num(cy) +
         ")\" text-anchor=\"middle\"" + size + " fill=\"" + kTextColour + "\">" +
         Escape(Fit(label, span_px, kCharPx * scale)) + "</text>";
}

std::string CategoryLabel(const Frame& f, size_t row, const std::string& label) {
  const double cy = f.top + 3 + kBarRowPx * (static_cast<double>(row) + 0.5);
  return "<text x=\"" + Num(f.left - 6) + "\" y=\"" + Num(cy + 4) +
         "\" text-anchor=\"end\" fill=\"" + kTextColour + "\">" +
         Escape(Fit(label, f.left - 10, kCharPx)) + "</text>";
}

std::string Annotation(double x, const Frame& f, size_t row, const std::string& text) {
  if (text.empty()) return "";
  const double cy = f.top + 3 + kBarRowPx * (static_cast<double>(row) + 0.5);
  return "<text x=\"" + Num(x + 5) + "\" y=\"" + Num(cy + 4) + "\" fill=\"" + kMutedColour +
         "\">" + Escape(text) + "</text>";
}

}  // namespace

std::string BarChart(const PlotOptions& o, const std::vector<Bar>& bars,
                     const std::string& colour) {
  std::vector<std::string> labels;
  double max_value = 0, annotation_px = 0;
  for (const Bar& b : bars) {
    labels.push_back(b.label);
    if (std::isfinite(b.value)) max_value = std::max(max_value, b.value);
    annotation_px =
        std::max(annotation_px, 10 + kCharPx * static_cast<double>(Chars(b.annotation)));
  }
  const BarFrame bf = BarLayout(o, labels, max_value, annotation_px, {});
  const Frame& f = bf.frame;
  std::string s =
      Header(o, f) + XAxis(f, bf.x, o.x.label, true) + CategoryAxisLabel(f, o.y.label);
  s += "<g fill=\"" + Escape(colour) + "\">";
  for (size_t i = 0; i < bars.size(); ++i) {
    const double v = std::isfinite(bars[i].value) ? std::max(0.0, bars[i].value) : 0;
    const double y0 = f.top + 3 + kBarRowPx * static_cast<double>(i) + 4;
    s += "<rect x=\"" + Num(f.left) + "\" y=\"" + Num(y0) + "\" width=\"" +
         Num(bf.x.Map(v) - f.left) + "\" height=\"" + Num(kBarRowPx - 8) + "\"/>";
  }
  s += "</g>";
  for (size_t i = 0; i < bars.size(); ++i) {
    const double v = std::isfinite(bars[i].value) ? std::max(0.0, bars[i].value) : 0;
    s += CategoryLabel(f, i, bars[i].label) + Annotation(bf.x.Map(v), f, i, bars[i].annotation);
  }
  return s + Footer(f);
}

std::string StackedBarChart(const PlotOptions& o, const std::vector<std::string>& segments,
                            const std::vector<std::string>& colours,
                            const std::vector<StackedBar>& bars) {
  // Totals and tooltips with their unit and a prefix that fits: a network's 0.004 J is
  // "4 mJ", not "0".
  auto figure = [&o](double v) {
    return o.value_unit.empty() ? FormatTick(v) : FormatSi(v, o.value_unit);
  };
  std::vector<std::string> labels;
  std::vector<double> segment_totals(segments.size(), 0);
  double max_total = 0, annotation_px = 0;
  for (const StackedBar& b : bars) {
    labels.push_back(b.label);
    double total = 0;
    for (size_t k = 0; k < b.values.size() && k < segments.size(); ++k) {
      if (!std::isfinite(b.values[k]) || b.values[k] <= 0) continue;
      total += b.values[k];
      segment_totals[k] += b.values[k];
    }
    max_total = std::max(max_total, total);
    annotation_px = std::max(annotation_px, 10 + kCharPx * static_cast<double>(Chars(figure(total))));
  }
  std::vector<LegendEntry> legend;
  for (size_t k = 0; k < segments.size(); ++k) {
    if (segment_totals[k] > 0 && k < colours.size()) {
      legend.push_back({segments[k], colours[k], LegendEntry::kBox});
    }
  }
  const BarFrame bf = BarLayout(o, labels, max_total, annotation_px, legend);
  const Frame& f = bf.frame;
  std::string s =
      Header(o, f) + XAxis(f, bf.x, o.x.label, true) + CategoryAxisLabel(f, o.y.label);
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y0 = f.top + 3 + kBarRowPx * static_cast<double>(i) + 4;
    double acc = 0;
    for (size_t k = 0; k < bars[i].values.size() && k < segments.size() && k < colours.size();
         ++k) {
      const double v = bars[i].values[k];
      if (!std::isfinite(v) || v <= 0) continue;
      const double x0 = bf.x.Map(acc), x1 = bf.x.Map(acc + v);
      s += "<rect x=\"" + Num(x0) + "\" y=\"" + Num(y0) + "\" width=\"" + Num(x1 - x0) +
           "\" height=\"" + Num(kBarRowPx - 8) + "\" fill=\"" + Escape(colours[k]) + "\">" +
           "<title>" + Escape(segments[k] + ": " + figure(v)) + "</title></rect>";
      acc += v;
    }
    s += CategoryLabel(f, i, bars[i].label) + Annotation(bf.x.Map(acc), f, i, figure(acc));
  }
  return s + Footer(f);
}

}  // namespace wattfleet::svg
