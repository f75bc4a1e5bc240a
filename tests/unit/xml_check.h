// A strict little well-formedness check for the markup the report writes: every element
// closed in order, attribute values quoted, no stray '<' or '&' in text. Enough to catch
// unescaped text and unbalanced tags; not a general XML parser (no CDATA, no DTD beyond a
// leading <!DOCTYPE html>, no processing instructions).
#pragma once

#include <cctype>
#include <string>
#include <vector>

namespace wattfleet::testing {

// HTML's void elements, written without a closing tag even where the document is XML-like.
inline bool IsVoidElement(const std::string& name) {
  for (const char* v : {"meta", "br", "hr", "img", "link", "input"}) {
    if (name == v) return true;
  }
  return false;
}

// Empty when `text` is well-formed; otherwise what is wrong and the byte offset.
inline std::string CheckWellFormed(const std::string& text) {
  std::vector<std::string> open;
  size_t i = 0;
  auto where = [&](size_t at) { return " at offset " + std::to_string(at); };
  if (text.compare(0, 15, "<!DOCTYPE html>") == 0) i = 15;
  // Inside <style> and <title> raw text is allowed ('<' must still not appear in ours).
  while (i < text.size()) {
    const char c = text[i];
    if (c == '&') {
      const size_t semi = text.find(';', i);
      if (semi == std::string::npos || semi - i > 8) return "bare '&'" + where(i);
      const std::string entity = text.substr(i + 1, semi - i - 1);
      const bool ok = entity == "amp" || entity == "lt" || entity == "gt" || entity == "quot" ||
                      entity == "#39" || (entity.size() > 1 && entity[0] == '#');
      if (!ok) return "unknown entity &" + entity + ";" + where(i);
      i = semi + 1;
      continue;
    }
    if (c == '>') return "stray '>'" + where(i);
    if (c != '<') {
      ++i;
      continue;
    }
    const bool closing = i + 1 < text.size() && text[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    std::string name;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) ||
                               text[j] == '-' || text[j] == ':')) {
      name += text[j++];
    }
    if (name.empty()) return "'<' not starting a tag" + where(i);
    bool self_closing = false;
    // Attributes: name="value" or name='value', values without '<'.
    while (j < text.size() && text[j] != '>') {
      const char a = text[j];
      if (a == '/' && j + 1 < text.size() && text[j + 1] == '>') {
        self_closing = true;
        ++j;
        break;
      }
      if (std::isspace(static_cast<unsigned char>(a))) {
        ++j;
        continue;
      }
      if (closing) return "attributes in a closing tag" + where(j);
      size_t k = j;
      while (k < text.size() && text[k] != '=' && text[k] != '>' &&
             !std::isspace(static_cast<unsigned char>(text[k]))) {
        ++k;
      }
      if (k >= text.size() || text[k] != '=') return "attribute without a value" + where(j);
      const char quote = k + 1 < text.size() ? text[k + 1] : 0;
      if (quote != '"' && quote != '\'') return "unquoted attribute value" + where(k);
      const size_t end = text.find(quote, k + 2);
      if (end == std::string::npos) return "unterminated attribute value" + where(k);
      if (text.substr(k + 2, end - k - 2).find('<') != std::string::npos) {
        return "'<' in an attribute value" + where(k);
      }
      j = end + 1;
    }
    if (j >= text.size()) return "unterminated tag <" + name + where(i);
    if (closing) {
      if (open.empty() || open.back() != name) {
        return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">") +
               where(i);
      }
      open.pop_back();
    } else if (!self_closing && !IsVoidElement(name)) {
      open.push_back(name);
    }
    i = j + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  return "";
}

}  // namespace wattfleet::testing
