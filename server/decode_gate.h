// The cap on concurrent image decodes. Each upload is checked against the decode
// budget from its header first (engine/data/image.h, kMaxDecodedBytes, no waiting);
// an image within it then needs one of a few decode slots, so the memory of the
// decodes in flight is bounded by slots x (about 3 x the budget) whatever the number
// of uploads arriving at once.
//
// Waiting, then 503: a request waits up to `wait` for a slot (a user who uploads
// while another decode runs gets an answer a moment later, not an error); after
// that it gets 503 service_busy with Retry-After, and its handler thread is free.
// Health and static files never pass here (server/quick_requests.h).
#pragma once

#include "server/http.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

namespace cxr::server {

// Two slots: the two cores of the smallest machine this runs on stay busy decoding,
// and two decodes within the budget peak at ~400 MB.
inline constexpr int kDecodeSlots = 2;
inline constexpr std::chrono::milliseconds kDecodeWait{5000};

// 503 with a Retry-After header (the router sets it from retry_after_seconds()).
class ServiceBusy : public HttpError {
 public:
  ServiceBusy(const std::string& message, int retry_after_seconds)
      : HttpError(http::status::service_unavailable, "service_busy", message),
        retry_after_seconds_(retry_after_seconds) {}
  int retry_after_seconds() const { return retry_after_seconds_; }

 private:
  int retry_after_seconds_;
};

class DecodeGate {
 public:
  explicit DecodeGate(int slots = kDecodeSlots, std::chrono::milliseconds wait = kDecodeWait);
  DecodeGate(const DecodeGate&) = delete;
  DecodeGate& operator=(const DecodeGate&) = delete;

  // A held slot, given back when it goes out of scope.
  class Permit {
   public:
    explicit Permit(DecodeGate& gate) : gate_(&gate) {}
    Permit(Permit&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Permit& operator=(Permit&&) = delete;
    ~Permit();

   private:
    DecodeGate* gate_;
  };

  // Waits for a slot; throws ServiceBusy when none frees within the wait.
  Permit enter();

  int slots() const { return slots_; }
  int busy() const;  // slots held now

 private:
  const int slots_;
  const std::chrono::milliseconds wait_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  int held_ = 0;
};

}  // namespace cxr::server
