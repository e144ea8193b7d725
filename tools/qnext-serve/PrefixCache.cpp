//===- PrefixCache.cpp - saved sequences a new request resumes from -------===//

#include "PrefixCache.h"

#include <algorithm>

namespace qnext::serve {

const PrefixCache::Entry *PrefixCache::find(const std::vector<int32_t> &prompt) {
  auto best = lru.end();
  for (auto it = lru.begin(); it != lru.end(); ++it) {
    const std::vector<int32_t> &t = it->tokens;
    const bool usable =
        t.size() < prompt.size() || (t.size() == prompt.size() && !it->logits.empty());
    if (usable && (best == lru.end() || t.size() > best->tokens.size()) &&
        std::equal(t.begin(), t.end(), prompt.begin()))
      best = it;
  }
  if (best == lru.end())
    return nullptr;
  lru.splice(lru.begin(), lru, best);
  return &lru.front();
}

bool PrefixCache::touch(const std::vector<int32_t> &tokens, bool logits) {
  for (auto it = lru.begin(); it != lru.end(); ++it)
    if (it->tokens == tokens) {
      if (logits && it->logits.empty())
        return false;
      lru.splice(lru.begin(), lru, it);
      return true;
    }
  return false;
}

void PrefixCache::insert(Entry entry) {
  if (cost(entry) > budget)
    return;
  for (auto it = lru.begin(); it != lru.end(); ++it)
    if (it->tokens == entry.tokens) {
      used -= cost(*it);
      lru.erase(it);
      break;
    }
  used += cost(entry);
  lru.push_front(std::move(entry));
  while (used > budget) {
    used -= cost(lru.back());
    lru.pop_back();
  }
}

} // namespace qnext::serve
