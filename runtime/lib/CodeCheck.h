//===- CodeCheck.h - is a code section qnext's, for this machine -*- C++ -*-===//
//
// Before the code of an artifact is loaded (dlopen runs its initialisers),
// its bytes are read as an ELF file, bounds-checked throughout: a 64-bit
// little-endian shared object for x86-64 that defines every entry point the
// manifest names and the `qnext_abi` record (qnext/ArtifactFormat.h), whose
// text is returned. A valid ELF that is not qnext's (another library, code
// for another machine) is refused in one line, as is one whose record
// disagrees with the manifest (the caller compares them).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_CODECHECK_H
#define QNEXT_RUNTIME_CODECHECK_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qnext::runtime {

/// True when `code` is an x86-64 ELF shared object defining every symbol in
/// `required` and the `qnext_abi` record, whose text is put in `abi`;
/// otherwise false and `why` says what is wrong ("the code section: ...").
bool checkCode(const uint8_t *code, size_t size, const std::vector<std::string> &required,
               std::string &abi, std::string &why);

} // namespace qnext::runtime

#endif // QNEXT_RUNTIME_CODECHECK_H
