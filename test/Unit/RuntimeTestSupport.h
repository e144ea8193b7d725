//===- RuntimeTestSupport.h - helpers of the C API's tests ------*- C++ -*-===//
//
// What the runtime's C API tests (SlotTest.cpp, BatchTest.cpp) share: the
// golden folders' token lists and the API's error strings.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TEST_UNIT_RUNTIMETESTSUPPORT_H
#define QNEXT_TEST_UNIT_RUNTIMETESTSUPPORT_H

#include "qnext/Runtime.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace qnext::test {

/// A golden folder's comma-separated token ids (prompt.txt, generated.txt).
inline std::vector<int32_t> readIds(const std::string &path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  std::string item;
  while (std::getline(in, item, ','))
    ids.push_back(int32_t(std::stol(item)));
  return ids;
}

/// The error of a failed call, freed.
inline std::string take(char *error) {
  std::string message = error ? error : "(no message)";
  qnext_free_error(error);
  return message;
}

} // namespace qnext::test

#endif // QNEXT_TEST_UNIT_RUNTIMETESTSUPPORT_H
