#pragma once
// Host code serving a data stream, as the SDK's poplar/StreamCallback.hpp. For a stream to the device, fetch(p)
// (or a successful prefetch(p)) writes one block at p; for a stream from the device, fetch(p) reads the block the
// device sent. complete() follows each transfer. The pointer is valid only during the call.
#include <memory>
#include <type_traits>
#include <utility>

namespace poplar_emulator {
struct Access;
} // namespace poplar_emulator

namespace poplar {

class StreamCallbackBase {
public:
  enum class Result { Success, NotAvailable };
  virtual ~StreamCallbackBase() = default;
  virtual void complete() = 0;
  virtual void invalidatePrefetched() {}
};

class StreamCallback : public StreamCallbackBase {
public:
  // Success when the block was written at p ahead of the transfer; NotAvailable makes the engine call fetch(p).
  virtual Result prefetch(void *p) = 0;
  virtual void fetch(void *p) = 0;
};

// A callback that only fetches: prefetch is never available and complete does nothing.
class LegacyStreamCallback : public StreamCallback {
public:
  Result prefetch(void *) final { return Result::NotAvailable; }
  void invalidatePrefetched() final {}
  void complete() final {}
};

// What Engine::connectStreamToCallback takes: a StreamCallback, or any callable taking the block's pointer.
// Move-only.
class StreamCallbackHandle {
public:
  template <typename F> StreamCallbackHandle(F &&f) {
    if constexpr (std::is_convertible_v<F &&, std::unique_ptr<StreamCallback>>) {
      callback_ = std::unique_ptr<StreamCallback>(std::forward<F>(f));
    } else {
      callback_ = std::make_unique<Function<std::decay_t<F>>>(std::forward<F>(f));
    }
  }

private:
  template <typename F> class Function final : public LegacyStreamCallback {
  public:
    explicit Function(F f) : f_(std::move(f)) {}
    void fetch(void *p) override { f_(p); }

  private:
    F f_;
  };
  friend struct poplar_emulator::Access;
  std::unique_ptr<StreamCallback> callback_;
};

} // namespace poplar
