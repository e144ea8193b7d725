//===- CodeCheck.cpp - is a code section qnext's, for this machine --------===//

#include "CodeCheck.h"

#include "qnext/ArtifactFormat.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace qnext::runtime {

namespace {
bool refuse(std::string &why, const std::string &message) {
  why = "the code section: " + message;
  return false;
}

/// [offset, offset + size) lies inside a file of `fileSize` bytes.
bool inside(uint64_t offset, uint64_t size, uint64_t fileSize) {
  return offset <= fileSize && size <= fileSize - offset;
}
} // namespace

bool checkCode(const uint8_t *code, size_t size, const std::vector<std::string> &required,
               std::string &abi, std::string &why) {
  Elf64_Ehdr header;
  if (size < sizeof header || std::memcmp(code, ELFMAG, SELFMAG) != 0)
    return refuse(why, "not an ELF file");
  std::memcpy(&header, code, sizeof header);
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
    return refuse(why, "not a 64-bit little-endian ELF file");
  if (header.e_machine != EM_X86_64)
    return refuse(why, "ELF code for machine " + std::to_string(header.e_machine) +
                           ", not x86-64");
  if (header.e_type != ET_DYN)
    return refuse(why, "not a shared object (ELF type " + std::to_string(header.e_type) +
                           ")");
  if (header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shnum == 0 ||
      !inside(header.e_shoff, uint64_t(header.e_shnum) * sizeof(Elf64_Shdr), size))
    return refuse(why, "its section headers lie outside it");
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  std::memcpy(sections.data(), code + header.e_shoff, sections.size() * sizeof(Elf64_Shdr));

  // The dynamic symbols: what dlsym would find.
  const Elf64_Shdr *dynsym = nullptr;
  for (const Elf64_Shdr &s : sections)
    if (s.sh_type == SHT_DYNSYM)
      dynsym = &s;
  if (!dynsym)
    return refuse(why, "a shared object without dynamic symbols");
  if (dynsym->sh_entsize != sizeof(Elf64_Sym) || dynsym->sh_link >= sections.size() ||
      !inside(dynsym->sh_offset, dynsym->sh_size, size))
    return refuse(why, "its dynamic symbol table lies outside it");
  const Elf64_Shdr &strtab = sections[dynsym->sh_link];
  if (strtab.sh_type != SHT_STRTAB || !inside(strtab.sh_offset, strtab.sh_size, size))
    return refuse(why, "its dynamic string table lies outside it");
  const char *names = reinterpret_cast<const char *>(code + strtab.sh_offset);

  std::map<std::string, Elf64_Sym> defined; // the names asked for
  std::vector<std::string> wanted = required;
  wanted.push_back(artifact::kABISymbol);
  const size_t count = dynsym->sh_size / sizeof(Elf64_Sym);
  for (size_t i = 0; i < count; ++i) {
    Elf64_Sym sym;
    std::memcpy(&sym, code + dynsym->sh_offset + i * sizeof sym, sizeof sym);
    if (sym.st_shndx == SHN_UNDEF || sym.st_name >= strtab.sh_size)
      continue;
    const char *name = names + sym.st_name;
    const size_t room = strtab.sh_size - sym.st_name;
    const size_t length = strnlen(name, room);
    if (length == room)
      continue; // not NUL-terminated inside the table
    std::string text(name, length);
    if (std::find(wanted.begin(), wanted.end(), text) != wanted.end())
      defined[text] = sym;
  }
  std::string missing;
  for (const std::string &name : wanted)
    if (!defined.count(name))
      missing += (missing.empty() ? "" : ", ") + name;
  if (missing == artifact::kABISymbol)
    return refuse(why, "it defines the entry points but no qnext_abi record: code from an "
                       "older qnext-compile (recompile the checkpoint), or not qnext's");
  if (!missing.empty())
    return refuse(why, "not qnext's code: it defines no " + missing);

  // The record's bytes, through the section that holds them.
  const Elf64_Sym &record = defined[artifact::kABISymbol];
  if (record.st_shndx >= sections.size())
    return refuse(why, "qnext_abi lies outside it");
  const Elf64_Shdr &holder = sections[record.st_shndx];
  if (holder.sh_type != SHT_PROGBITS || record.st_value < holder.sh_addr ||
      !inside(record.st_value - holder.sh_addr, record.st_size, holder.sh_size) ||
      !inside(holder.sh_offset, holder.sh_size, size))
    return refuse(why, "qnext_abi lies outside it");
  const char *text =
      reinterpret_cast<const char *>(code + holder.sh_offset + (record.st_value - holder.sh_addr));
  const size_t length = strnlen(text, record.st_size);
  if (length == record.st_size)
    return refuse(why, "qnext_abi is not a string");
  abi.assign(text, length);
  return true;
}

} // namespace qnext::runtime
