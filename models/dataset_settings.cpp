#include "models/dataset_settings.h"

#include <boost/json.hpp>

#include <fstream>
#include <iterator>
#include <string>

namespace cxr {

namespace fs = std::filesystem;
namespace json = boost::json;

json::object dataset_build_settings(const fs::path& data_dir) {
  std::ifstream in(data_dir / "stats.json");
  if (!in) return {};
  boost::system::error_code ec;
  const json::value v = json::parse(std::string{std::istreambuf_iterator<char>(in), {}}, ec);
  if (ec || !v.is_object()) return {};
  const json::value* settings = v.as_object().if_contains("settings");
  return settings != nullptr && settings->is_object() ? settings->as_object() : json::object{};
}

fs::path dataset_covid_dir(const fs::path& data_dir) {
  const json::object settings = dataset_build_settings(data_dir);
  const json::value* dir = settings.if_contains("covid_dir");
  return dir != nullptr && dir->is_string() ? fs::path(std::string(dir->as_string())) : fs::path();
}

std::optional<std::uint64_t> dataset_split_seed(const fs::path& data_dir) {
  const json::object settings = dataset_build_settings(data_dir);
  const json::value* seed = settings.if_contains("seed");
  if (seed == nullptr) return std::nullopt;
  if (seed->is_uint64()) return seed->as_uint64();
  if (seed->is_int64() && seed->as_int64() >= 0) return static_cast<std::uint64_t>(seed->as_int64());
  return std::nullopt;
}

}  // namespace cxr
