// The JSON request body of POST /api/v1/train (server/train_params.h): anything
// accepted must be within the documented ranges.
#include "fuzz_support.h"

#include "server/train_params.h"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cxr::server::Request req{cxr::server::http::verb::post, "/api/v1/train", 11};
  req.set(cxr::server::http::field::content_type, "application/json");
  req.body() = cxr::fuzz::text(data, size);
  try {
    const cxr::server::FineTuneParams p = cxr::server::parse_train_params(req);
    if (p.epochs < 1 || p.epochs > 50 || !(p.learning_rate > 0 && p.learning_rate <= 0.1) || p.batch < 1 ||
        p.batch > 256)
      __builtin_trap();  // accepted out of range
  } catch (const cxr::server::HttpError&) {
  }
  return 0;
}
