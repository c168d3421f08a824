#include "notifier.h"

#include <utility>

namespace threadkv {

namespace {

uint64_t NextNotifierId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Notifier::Notifier(Signal signal) : signal_(std::move(signal)), id_(NextNotifierId()) {}

bool Notifier::Notify(uint64_t token) {
  std::lock_guard lock(mu_);
  if (!alive_.load(std::memory_order_relaxed)) return false;
  pending_.push_back(token);
  if (signalled_) return true;  // coalesced: the owner has not drained since the last signal
  signalled_ = true;
  signals_.fetch_add(1, std::memory_order_relaxed);
  // Under mu_, so that Shutdown() cannot complete while a signal is being
  // sent: after Shutdown() returns, no thread is in signal_.
  if (!signal_()) signalled_ = false;
  return true;
}

size_t Notifier::Drain(std::vector<uint64_t>* out) {
  std::lock_guard lock(mu_);
  const size_t n = pending_.size();
  if (out->empty()) {
    out->swap(pending_);  // keeps out's old buffer for the next time
  } else {
    out->insert(out->end(), pending_.begin(), pending_.end());
  }
  pending_.clear();
  signalled_ = false;
  return n;
}

void Notifier::Shutdown() {
  std::vector<uint64_t> dropped;  // freed after the lock
  std::lock_guard lock(mu_);
  alive_.store(false, std::memory_order_release);
  dropped.swap(pending_);
  signalled_ = false;
}

}  // namespace threadkv
