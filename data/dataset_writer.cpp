#include "data/dataset_writer.h"

#include "base/check.h"

#include <boost/json.hpp>

#include <fstream>
#include <string>

namespace cxr::data {

namespace json = boost::json;

namespace {

// boost::json writes one line; stats.json is also read by people.
void pretty(std::ostream& out, const json::value& v, int indent) {
  const std::string pad(indent + 2, ' '), end_pad(indent, ' ');
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      out << "{}";
      return;
    }
    out << "{\n";
    std::size_t i = 0;
    for (const auto& kv : o) {
      out << pad << json::serialize(json::string(kv.key())) << ": ";
      pretty(out, kv.value(), indent + 2);
      out << (++i < o.size() ? ",\n" : "\n");
    }
    out << end_pad << "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    const auto& a = v.get_array();
    out << "[\n";
    for (std::size_t i = 0; i < a.size(); ++i) {
      out << pad;
      pretty(out, a[i], indent + 2);
      out << (i + 1 < a.size() ? ",\n" : "\n");
    }
    out << end_pad << "]";
  } else {
    out << json::serialize(v);
  }
}

}  // namespace

void write_dataset(const std::filesystem::path& dir, const std::vector<ManifestRow>& rows, const CacheInfo& cache,
                   const std::function<const std::uint8_t*(std::size_t)>& pixels, const json::object& stats) {
  CXR_CHECK(cache.count == rows.size(), "dataset: {} images in the cache header for {} manifest rows", cache.count,
            rows.size());
  CacheWriter writer(dir / "cache.bin", cache);
  for (std::size_t k = 0; k < rows.size(); ++k) writer.write(pixels(k));
  writer.close();
  write_manifest(dir / "manifest.csv", rows, cache.num_classes);

  const std::filesystem::path path = dir / "stats.json";
  std::ofstream out(path, std::ios::binary);
  CXR_CHECK(out.good(), "stats: cannot create {}", path.string());
  pretty(out, stats, 0);
  out << "\n";
  out.close();
  CXR_CHECK(out.good(), "stats: error writing {}", path.string());
}

}  // namespace cxr::data
