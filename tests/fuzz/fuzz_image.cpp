// Image decoding and preprocessing of an upload: the accepted-format check at the
// door, the header check (limits, decode budget), the decode to grey with EXIF
// orientation, and the model's preprocessing (fit to the square, normalise,
// resize). Any exception is a refusal, which is fine; a crash or a sanitizer report
// is a bug.
#include "fuzz_support.h"

#include "models/inference.h"
#include "server/http.h"
#include "server/image_format.h"

namespace {

const cxr::ModelInfo& info() {
  static const cxr::LoadedModel model = cxr::fuzz::tiny_model();
  return model.info;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = cxr::fuzz::text(data, size);
  try {
    cxr::server::require_accepted_image_format(text);
  } catch (const cxr::server::HttpError&) {
    return 0;
  }
  try {
    const cxr::PreparedImage p = cxr::prepare_image(cxr::fuzz::bytes(data, size), info());
    if (p.input.numel() != 64 * 64) __builtin_trap();  // the model's input, whatever the image
  } catch (const cxr::ImageError&) {
  }
  return 0;
}
