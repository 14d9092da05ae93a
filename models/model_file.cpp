#include "models/model_file.h"

#include "engine/data/sha256.h"
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "models/lung_view.h"
#include "models/presets.h"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

namespace cxr {

namespace json = boost::json;

namespace {

const std::set<std::string> kReservedKeys{"format", "format_version", "preset",    "config", "classes", "normalization",
                                          "fit",    "dataset_size",   "split_seed"};

// The metadata value `key`, or an error naming the file.
const std::string& meta(const SafetensorsFile& file, const std::string& key) {
  auto it = file.metadata.find(key);
  CXR_CHECK(it != file.metadata.end(), "model file '{}': no \"{}\" in its metadata", file.path, key);
  return it->second;
}

json::value parse_meta_json(const SafetensorsFile& file, const std::string& key) {
  boost::system::error_code ec;
  json::value v = json::parse(meta(file, key), ec);
  CXR_CHECK(!ec, "model file '{}': \"{}\" is not valid JSON ({})", file.path, key, ec.message());
  return v;
}

// The decimal metadata value `key`, when present; an error names the file, the key and the text.
template <class Int>
std::optional<Int> optional_integer(const SafetensorsFile& file, const std::string& key, Int minimum) {
  const auto it = file.metadata.find(key);
  if (it == file.metadata.end()) return std::nullopt;
  const std::string& text = it->second;
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  CXR_CHECK(ec == std::errc() && end == text.data() + text.size() && value >= minimum,
            "model file '{}': {} is '{}', expected a whole number of at least {}", file.path, key, text, minimum);
  return value;
}

ModelInfo read_info(const SafetensorsFile& file) {
  auto format = file.metadata.find("format");
  CXR_CHECK(format != file.metadata.end() && format->second == kModelFormat,
            "'{}' is not a CXR model file (its metadata has no \"format\": \"{}\")", file.path, kModelFormat);
  const std::string& version = meta(file, "format_version");
  CXR_CHECK(version == std::to_string(kModelFormatVersion),
            "model file '{}': unknown format version \"{}\" (this build reads version {})", file.path, version,
            kModelFormatVersion);

  ModelInfo info;
  info.preset = meta(file, "preset");
  try {
    info.config = net_config_from_json(parse_meta_json(file, "config"));
  } catch (const Error& e) {
    throw Error(fmt::format("model file '{}': bad config: {}", file.path, e.what()));
  }

  const json::value classes = parse_meta_json(file, "classes");
  CXR_CHECK(classes.is_array(), "model file '{}': \"classes\" must be a JSON array of names", file.path);
  for (const auto& c : classes.as_array()) {
    CXR_CHECK(c.is_string(), "model file '{}': class name {} is not a string", file.path, json::serialize(c));
    info.class_names.emplace_back(c.as_string());
  }
  CXR_CHECK(static_cast<int>(info.class_names.size()) == info.config.num_classes,
            "model file '{}': {} class names for a network with {} outputs", file.path, info.class_names.size(),
            info.config.num_classes);

  const json::value norm = parse_meta_json(file, "normalization");
  const auto* n = norm.if_object();
  CXR_CHECK(n && n->contains("mean") && n->contains("std") && n->at("mean").is_number() && n->at("std").is_number(),
            "model file '{}': \"normalization\" must be {{\"mean\": number, \"std\": number}}, got {}", file.path,
            json::serialize(norm));
  info.mean = n->at("mean").to_number<float>();
  info.stddev = n->at("std").to_number<float>();
  CXR_CHECK(std::isfinite(info.mean) && info.stddev > 0, "model file '{}': normalization std must be positive",
            file.path);

  if (const auto fit = file.metadata.find("fit"); fit != file.metadata.end()) {
    info.fit = data::parse_fit(fit->second);
    CXR_CHECK(info.fit.has_value(), "model file '{}': fit is '{}', expected pad or crop", file.path, fit->second);
  }
  info.dataset_size = optional_integer(file, "dataset_size", 8);
  info.split_seed = optional_integer<std::uint64_t>(file, "split_seed", 0);

  for (const auto& [key, value] : file.metadata)
    if (!kReservedKeys.count(key)) info.extra[key] = value;
  return info;
}

}  // namespace

void save_model(const std::string& path, ClassifierNet& net, const ModelInfo& info) {
  CXR_CHECK(info.config == net.config(), "save_model '{}': the info's config is not the network's", path);
  CXR_CHECK(static_cast<int>(info.class_names.size()) == net.config().num_classes,
            "save_model '{}': {} class names for a network with {} outputs", path, info.class_names.size(),
            net.config().num_classes);
  CXR_CHECK(info.stddev > 0, "save_model '{}': normalization std must be positive, got {}", path, info.stddev);
  CXR_CHECK(!info.dataset_size || *info.dataset_size >= 8, "save_model '{}': dataset_size must be at least 8, got {}",
            path, info.dataset_size.value_or(0));

  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : info.extra) {
    CXR_CHECK(!kReservedKeys.count(key), "save_model '{}': extra metadata may not use the reserved key \"{}\"", path,
              key);
    metadata[key] = value;
  }
  json::array classes;
  for (const auto& c : info.class_names) classes.emplace_back(c);
  metadata["format"] = kModelFormat;
  metadata["format_version"] = std::to_string(kModelFormatVersion);
  metadata["preset"] = info.preset;
  metadata["config"] = json::serialize(to_json(info.config));
  metadata["classes"] = json::serialize(classes);
  metadata["normalization"] = json::serialize(json::object{{"mean", info.mean}, {"std", info.stddev}});
  if (info.fit) metadata["fit"] = std::string(data::fit_name(*info.fit));
  if (info.dataset_size) metadata["dataset_size"] = std::to_string(*info.dataset_size);
  if (info.split_seed) metadata["split_seed"] = std::to_string(*info.split_seed);
  save_checkpoint(path, net, metadata);
}

LoadedModel load_model(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  LoadedModel m;
  m.info = read_info(file);
  m.net = make_net(m.info.config);
  m.params = std::make_unique<ParameterSet>(*m.net, 0);
  load_checkpoint(file, *m.net);
  m.net->eval();
  if (const auto view = m.info.extra.find("lung_view"); view != m.info.extra.end() && view->second != "none") {
    const std::filesystem::path segmenter = lung_segmenter_path_for(path);
    CXR_CHECK(std::filesystem::exists(segmenter),
              "model file '{}' was trained on the lung view {}, but its lung segmenter {} is missing", path,
              view->second, segmenter.string());
    if (const auto sha = m.info.extra.find("lung_model_sha256"); sha != m.info.extra.end())
      CXR_CHECK(data::file_sha256(segmenter.string()) == sha->second,
                "{} is not the lung segmenter model file '{}' was trained with (SHA-256 differs)", segmenter.string(),
                path);
    m.info.lung_view =
        std::make_shared<LungViewStage>(LungView::parse(view->second), load_seg_model(segmenter.string()));
  }
  return m;
}

}  // namespace cxr
