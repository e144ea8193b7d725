//===- FuzzCode.cpp - libFuzzer target: the code section's ELF check ------===//
//
// The bytes are an artifact's code section, read (never loaded) by the
// check the runtime makes before dlopen: ELF header, section headers, the
// dynamic symbols and the qnext_abi record (runtime/lib/CodeCheck.cpp).
//
//===----------------------------------------------------------------------===//

#include "CodeCheck.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string abi, why;
  (void)qnext::runtime::checkCode(data, size, {"qnext_prefill", "qnext_decode"}, abi, why);
  return 0;
}
