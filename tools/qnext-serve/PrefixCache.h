//===- PrefixCache.h - saved sequences a new request resumes from -*- C++ -*-===//
//
// Snapshots of sequences (qnext_slot_save: KV rows and DeltaNet states) by
// their tokens. The engine saves one where a chat's last turn ends (before
// the generation prompt), or at the end of a text prompt (with the last
// token's logits, so that the same prompt again starts sampling at once),
// one when the request ends (prompt and reply: a chat's next turn, which
// repeats them, prefills only its new message) and one every N tokens of a
// long prompt. A joining request resumes from the longest saved
// sequence its prompt begins with. Least recently used snapshots go first
// when the bytes pass the budget. Used by the engine's thread only.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TOOLS_QNEXT_SERVE_PREFIXCACHE_H
#define QNEXT_TOOLS_QNEXT_SERVE_PREFIXCACHE_H

#include <cstddef>
#include <cstdint>
#include <list>
#include <vector>

namespace qnext::serve {

class PrefixCache {
public:
  struct Entry {
    std::vector<int32_t> tokens;
    std::vector<uint8_t> snapshot;
    /// The logits after the last token (empty when not kept).
    std::vector<float> logits;
  };

  explicit PrefixCache(int64_t budgetBytes) : budget(budgetBytes) {}

  /// The entry of the most tokens that `prompt` begins with, now the most
  /// recently used: one shorter than the prompt, or the whole prompt when it
  /// kept its logits; nullptr when none. Valid until the next insert.
  const Entry *find(const std::vector<int32_t> &prompt);
  /// Whether an entry of `tokens` (with logits, when `logits`) is kept; if
  /// so it becomes the most recently used, and there is nothing to save.
  bool touch(const std::vector<int32_t> &tokens, bool logits);
  /// Whether a snapshot of `bytes` could be kept at all.
  bool fits(int64_t bytes) const { return bytes <= budget; }
  /// Keeps `entry` (in place of one of the same tokens), then evicts the
  /// least recently used entries while the bytes pass the budget.
  void insert(Entry entry);

  int64_t bytes() const { return used; }
  int64_t entries() const { return int64_t(lru.size()); }

private:
  static int64_t cost(const Entry &e) {
    return int64_t(sizeof(Entry) + e.snapshot.size() + e.tokens.size() * sizeof(int32_t) +
                   e.logits.size() * sizeof(float));
  }

  int64_t budget, used = 0;
  std::list<Entry> lru; ///< most recently used first
};

} // namespace qnext::serve

#endif // QNEXT_TOOLS_QNEXT_SERVE_PREFIXCACHE_H
