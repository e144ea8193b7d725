//===- KernelProfile.cpp - time per kernel, from instrumented code -------===//

#include "KernelProfile.h"

#include "CodeLoader.h"

#include <chrono>
#include <cstring>

namespace qnext::runtime {

namespace {
/// The profile the hook reports to (the code calls a plain function).
KernelProfile *active = nullptr;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

KernelProfile::~KernelProfile() { enable(false); }

bool KernelProfile::attach(const LoadedCode &code) {
  auto *count = static_cast<const int32_t *>(code.symbol("qnext_kernel_count"));
  auto *names = static_cast<const char *>(code.symbol("qnext_kernel_names"));
  auto *bytes = static_cast<const int64_t *>(code.symbol("qnext_kernel_bytes"));
  // Absent in an artifact of an earlier qnext: its bytes then hold a
  // gathered buffer's size negated (less what it read whole, where a kernel
  // did both: read here as gathered).
  auto *gathered =
      static_cast<const int64_t *>(code.symbol("qnext_kernel_gathered_bytes"));
  auto *pointer = static_cast<void **>(code.symbol("qnext_kernel_hook"));
  if (!count || !names || !bytes || !pointer || *count <= 0 || *count > (1 << 20))
    return false;
  std::vector<Entry> entries(*count);
  for (Entry &e : entries) {
    size_t length = strnlen(names, 4096);
    if (length == 0 || length == 4096)
      return false;
    e.name.assign(names, length);
    names += length + 1;
    e.weightBytes = *bytes++;
    e.gatheredBytes = gathered ? *gathered++ : 0;
    if (e.weightBytes < 0) {
      e.gatheredBytes = -e.weightBytes;
      e.weightBytes = 0;
    }
  }
  table = std::move(entries);
  hook = pointer;
  return true;
}

bool KernelProfile::enable(bool on) {
  if (!hook)
    return !on;
  if (on) {
    if (active && active != this)
      return false;
    active = this;
    open.clear();
    *hook = reinterpret_cast<void *>(&KernelProfile::onHook);
    return true;
  }
  if (active == this) {
    *hook = nullptr;
    active = nullptr;
  }
  return true;
}

void KernelProfile::reset() {
  for (Entry &e : table) {
    e.calls = 0;
    e.seconds = e.selfSeconds = 0;
  }
  open.clear();
}

void KernelProfile::onHook(int32_t id, int32_t end) {
  KernelProfile *p = active;
  if (!p || id < 0 || size_t(id) >= p->table.size())
    return;
  int64_t now = nowNs();
  if (!end) {
    p->open.push_back({id, now, 0});
    return;
  }
  if (p->open.empty() || p->open.back().id != id)
    return; // enabled in the middle of a call: that call is not counted
  Open o = p->open.back();
  p->open.pop_back();
  int64_t total = now - o.start;
  Entry &e = p->table[id];
  ++e.calls;
  e.seconds += total * 1e-9;
  e.selfSeconds += (total - o.inner) * 1e-9;
  if (!p->open.empty())
    p->open.back().inner += total;
}

} // namespace qnext::runtime
