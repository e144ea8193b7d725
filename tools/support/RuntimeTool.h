//===- RuntimeTool.h - what the runtime tools share -----------*- C++ -*-===//
//
// qnext-run, qnext-bench and qnext-tokenize link the runtime and small
// Debian libraries only (CLI11 for options), never LLVM or MLIR: running an
// artifact must not need the compiler. This header gives them the command
// line (CLI11 with the project's error format), error lines in the LLVM
// tools' spelling ("qnext-run: error: ..."), printf-style formatting and
// whole-file reads.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TOOLS_RUNTIMETOOL_H
#define QNEXT_TOOLS_RUNTIMETOOL_H

#include "qnext/ArtifactFormat.h"
#include "qnext/FileChecks.h"
#include "qnext/Messages.h"
#include "qnext/Runtime.h"
#include "qnext/VersionInfo.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>

namespace qnext::tool {

/// The tool's name in its error lines.
inline std::string &toolName() {
  static std::string name = "qnext";
  return name;
}

/// "TOOL: error: MESSAGE" on stderr ("error:" in bold red on a terminal);
/// returns 1, the exit status of a failed run.
inline int fail(const std::string &message) {
  const bool color = ::isatty(STDERR_FILENO) && !std::getenv("NO_COLOR");
  std::cout.flush();
  // One line, however much of a hostile file a message quotes.
  std::cerr << toolName() << ": " << (color ? "\033[1;31merror: \033[0m" : "error: ")
            << (message.size() > kMaxLine ? excerpt(message, kMaxLine) : message) << "\n";
  return 1;
}

/// printf into a std::string.
__attribute__((format(printf, 1, 2))) inline std::string format(const char *fmt, ...) {
  va_list args, again;
  va_start(args, fmt);
  va_copy(again, args);
  int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out(size_t(n > 0 ? n : 0), '\0');
  if (n > 0)
    std::vsnprintf(out.data(), size_t(n) + 1, fmt, again);
  va_end(again);
  return out;
}

/// The whole of a regular file; false with `error` naming it otherwise.
inline bool readFile(const std::string &path, std::string &text, std::string &error) {
  if (!checkRegularFile(path, error))
    return false;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (!in && !in.eof()) {
    error = path + ": cannot be read";
    return false;
  }
  text = buffer.str();
  return true;
}

/// What --version prints: qnext's version, the git revision built, and what
/// this runtime runs.
inline std::string versionText() {
  return toolName() + " " QNEXT_VERSION " (git " QNEXT_GIT_REVISION ")\n"
         "  runtime: artifact format " + std::to_string(artifact::kVersion) +
         "; cpu artifacts (x86-64), cuda artifacts (NVIDIA GPUs, through libcuda.so.1)\n";
}

/// The generated code allocates its buffers a call (a prompt call's copies
/// of the DeltaNet states: 2 MB a layer on the bench preset). glibc serves
/// an allocation of 128 KiB or more with fresh pages from the kernel, each
/// faulted in and zeroed again every call (6-7 ms of a 3-token call's ~115
/// on the bench preset, docs/benchmarks.md): up to 32 MiB come from the heap
/// instead, and up to 64 MiB freed at its top stay there for the next call.
inline void keepCallBuffers() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

/// Parses the command line (with --version added); an exit status when the
/// tool should stop now (0 after --help or --version, 1 after an error,
/// which is reported as one "TOOL: error:" line with a pointer to --help).
/// Sets up the process first (keepCallBuffers, SIGXFSZ).
inline std::optional<int> parse(CLI::App &app, int argc, char **argv) {
  keepCallBuffers();
  // A file-size limit (ulimit -f) makes a write fail with EFBIG, reported
  // like a full disk, instead of killing the tool mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  app.set_version_flag("--version", [] { return versionText(); },
                       "Print the version, the git revision and what it runs");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForVersion &) {
    std::cout << versionText();
    return 0;
  } catch (const CLI::CallForHelp &) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp &) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError &e) {
    return fail(std::string(e.what()) + " (see --help)");
  }
  return std::nullopt;
}

/// The message of a failed runtime call, freed.
inline std::string takeError(char *error) {
  std::string message = error ? error : "(no message)";
  qnext_free_error(error);
  return message;
}

/// For a fat artifact (code for several CPUs), the variant the runtime
/// chose, one line on stderr: "TOOL: code variant: x86-64-v4+amx (inputs
/// bf16)". Nothing for an artifact with one code.
inline void sayCodeVariant(const qnext_model *model) {
  const char *variant = qnext_model_code_variant(model);
  if (!variant)
    return;
  std::cout.flush();
  std::cerr << toolName() << ": code variant: " << variant << " (inputs "
            << qnext_model_activations(model)
            << (qnext_model_uses_amx(model) ? ", AMX tiles" : "") << ")\n";
}

} // namespace qnext::tool

#endif // QNEXT_TOOLS_RUNTIMETOOL_H
