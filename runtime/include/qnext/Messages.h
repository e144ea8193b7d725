//===- Messages.h - quoting outside text in one-line messages ---*- C++ -*-===//
//
// An error names the file, the field and the value that is wrong; the value
// comes from a file someone else wrote and may be a megabyte long. Messages
// quote it through excerpt(), and the tools cut any line past kMaxLine as a
// last guard, so that an error stays one readable line.
// Header-only: the runtime, its tools and the compiler share it.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MESSAGES_H
#define QNEXT_MESSAGES_H

#include <cstddef>
#include <string>
#include <string_view>

namespace qnext {

/// The longest error line the tools print.
constexpr size_t kMaxLine = 2000;

/// `text` whole when it has at most `most` bytes, else its start and
/// "... (N bytes)"; control characters escaped (\n, \xNN), so a message
/// stays one line and no terminal escape gets through. Never cuts a UTF-8
/// sequence in two.
inline std::string excerpt(std::string_view text, size_t most = 80) {
  size_t cut = text.size();
  if (cut > most) {
    cut = most;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      --cut;
  }
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, cut)) {
    if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c == 0x7f)
      out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    else
      out += char(c);
  }
  if (cut < text.size())
    out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

/// A JSON value from someone else's file, quoted for a message: a number,
/// string, boolean or null as written (through excerpt()), as is a flat
/// array of them; a nested array or an object only by kind and size, never
/// serialised (a value nested 100,000 deep would overflow the stack of a
/// recursive dump). Any nlohmann::json.
template <typename Json> std::string quoteJSON(const Json &value, size_t most = 80) {
  if (value.is_array()) {
    bool flat = value.size() <= 64;
    for (const Json &element : value)
      flat = flat && element.is_primitive();
    return flat ? excerpt(value.dump(), most) : "an array of " + std::to_string(value.size());
  }
  if (value.is_object())
    return "an object of " + std::to_string(value.size()) + " keys";
  return excerpt(value.dump(), most);
}

} // namespace qnext

#endif // QNEXT_MESSAGES_H
