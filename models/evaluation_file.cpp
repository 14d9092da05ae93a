#include "models/evaluation_file.h"

#include "base/check.h"

#include <fstream>
#include <iterator>
#include <string>

namespace cxr {

namespace fs = std::filesystem;
namespace json = boost::json;

fs::path evaluation_path_for(const fs::path& model_file) {
  fs::path p = model_file;
  p.replace_extension(".eval.json");
  return p;
}

std::optional<json::object> read_evaluation_beside(const fs::path& model_file) {
  const fs::path path = evaluation_path_for(model_file);
  if (!fs::exists(path)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in.good(), "evaluation: cannot open '{}'", path.string());
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  CXR_CHECK(!ec, "evaluation: '{}' is not JSON: {}", path.string(), ec.message());
  const json::value* metrics = doc.is_object() ? doc.as_object().if_contains("metrics") : nullptr;
  CXR_CHECK(metrics != nullptr && metrics->is_object(), "evaluation: '{}' has no \"metrics\" object", path.string());
  // The shortcut figures of `cxr eval` travel with the metrics, so the web app shows them.
  json::object out = metrics->as_object();
  for (const char* key : {"by_source_and_age", "source_probe", "lung_energy", "train_sources"})
    if (const json::value* v = doc.as_object().if_contains(key); v != nullptr && !v->is_null()) out[key] = *v;
  return out;
}

}  // namespace cxr
