//===- FileChecks.h - may a file be read, may an output be written -*- C++ -*-===//
//
// Every reader checks that its input is a regular file before it opens it
// (links followed): a FIFO would block the open forever, a device such as
// /dev/zero would be read until memory runs out.
//
// Every tool that writes a file asks before it starts the work: an output
// that is one of its inputs (by any path or link), a folder, a FIFO, a socket
// or a block device is refused; a character device such as /dev/null is
// written in place, never replaced (renaming a temporary file over it would
// destroy the device node); anything else (a regular file, or a new name in
// an existing folder) is written to a temporary file beside it and renamed.
// Header-only, POSIX only: the runtime tools and the compiler share it.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_FILECHECKS_H
#define QNEXT_FILECHECKS_H

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace qnext {

/// True where `path` (links followed) is a regular file; otherwise false and
/// `error` is "PATH: No such file or directory", "PATH: is a folder, not a
/// file" or "PATH: not a regular file (a FIFO, socket or device)".
inline bool checkRegularFile(const std::string &path, std::string &error) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  if (S_ISREG(st.st_mode))
    return true;
  error = path + (S_ISDIR(st.st_mode)
                      ? ": is a folder, not a file"
                      : ": not a regular file (a FIFO, socket or device)");
  return false;
}

enum class OutputKind {
  Stdout,  ///< "-"
  Replace, ///< a temporary file beside it, renamed into place
  InPlace, ///< a character device: opened and written, never replaced
};

namespace detail {
inline bool sameFile(const struct stat &a, const struct stat &b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}
} // namespace detail

/// Decides how `path` may be written, or refuses it (false, `error` set to
/// one line naming the path). `inputs` are files or folders the tool reads;
/// a folder stands for every file directly in it.
inline bool checkOutputPath(const std::string &path,
                            const std::vector<std::string> &inputs,
                            OutputKind &kind, std::string &error) {
  if (path == "-") {
    kind = OutputKind::Stdout;
    return true;
  }
  struct stat out;
  if (stat(path.c_str(), &out) != 0) {
    if (errno != ENOENT) {
      error = path + ": " + std::strerror(errno);
      return false;
    }
    // A new file: its folder must be there (checked now, not after the work).
    size_t slash = path.find_last_of('/');
    std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + (slash == 0));
    struct stat dir;
    if (stat(folder.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode)) {
      error = path + ": no folder " + folder;
      return false;
    }
    kind = OutputKind::Replace;
    return true;
  }
  if (S_ISDIR(out.st_mode)) {
    error = path + ": is a folder, not a file to write";
    return false;
  }
  if (!S_ISREG(out.st_mode) && !S_ISCHR(out.st_mode)) {
    error = path + ": not a regular file (a FIFO, socket or block device); "
                   "refusing to write it";
    return false;
  }
  for (const std::string &input : inputs) {
    struct stat in;
    if (stat(input.c_str(), &in) != 0)
      continue;
    bool clash = detail::sameFile(in, out);
    if (!clash && S_ISDIR(in.st_mode))
      if (DIR *dir = opendir(input.c_str())) {
        while (dirent *entry = readdir(dir)) {
          struct stat file;
          std::string name = input + "/" + entry->d_name;
          if (stat(name.c_str(), &file) == 0 && S_ISREG(file.st_mode) &&
              detail::sameFile(file, out)) {
            clash = true;
            break;
          }
        }
        closedir(dir);
      }
    if (clash) {
      error = path + ": is an input of this run (" + input +
              "); refusing to overwrite it";
      return false;
    }
  }
  kind = S_ISCHR(out.st_mode) ? OutputKind::InPlace : OutputKind::Replace;
  return true;
}

/// Writes `bytes` into `path`, an existing character device
/// (OutputKind::InPlace), which stays what it is. False with `error` set to
/// one line naming the path on any failure.
inline bool writeInPlace(const std::string &path, std::string_view bytes,
                         std::string &error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0;
  while (ok && !bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    if (ok)
      bytes.remove_prefix(size_t(n));
  }
  if (!ok)
    error = path + ": " + std::strerror(errno);
  if (fd >= 0 && ::close(fd) != 0 && ok) {
    error = path + ": " + std::strerror(errno);
    ok = false;
  }
  return ok;
}

/// Writes `bytes` to `path` the way a tool replaces an output: to a new
/// temporary file beside it (created with mode 0666, so the umask decides,
/// as for any new file), then renamed over `path`, so that a reader never
/// sees half a file and a failed write (a full disk) leaves the old file as
/// it was. "-" is standard output. False with `error` set to one line naming
/// the path on any failure; the temporary file is then removed.
inline bool writeReplacing(const std::string &path, std::string_view bytes,
                           std::string &error) {
  auto writeAll = [](int fd, std::string_view rest) {
    while (!rest.empty()) {
      ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      rest.remove_prefix(size_t(n));
    }
    return true;
  };
  if (path == "-") {
    if (!writeAll(STDOUT_FILENO, bytes)) {
      error = "<stdout>: " + std::string(std::strerror(errno));
      return false;
    }
    return true;
  }
  std::string temporary;
  int fd = -1;
  for (unsigned attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temporary = path + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(attempt);
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  bool ok = writeAll(fd, bytes);
  int saved = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (ok && ::rename(temporary.c_str(), path.c_str()) != 0) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    ::unlink(temporary.c_str());
    error = path + ": " + std::strerror(saved);
  }
  return ok;
}

} // namespace qnext

#endif // QNEXT_FILECHECKS_H
