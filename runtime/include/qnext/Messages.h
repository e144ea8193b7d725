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
/// "... (N bytes)". Never cuts a UTF-8 sequence in two.
inline std::string excerpt(std::string_view text, size_t most = 80) {
  if (text.size() <= most)
    return std::string(text);
  size_t cut = most;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return std::string(text.substr(0, cut)) + "... (" + std::to_string(text.size()) +
         " bytes)";
}

} // namespace qnext

#endif // QNEXT_MESSAGES_H
