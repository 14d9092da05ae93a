#include "models/ood_gate.h"

#include "base/check.h"
#include "engine/data/sha256.h"
#include "engine/io/safetensors.h"
#include "models/image_statistics.h"
#include "models/temperature.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <iterator>

namespace cxr {

namespace fs = std::filesystem;

std::string ood_score_name(OodScore score) {
  switch (score) {
    case OodScore::mahalanobis: return "mahalanobis";
    case OodScore::thumbnail: return "thumbnail";
    case OodScore::statistics: return "statistics";
    case OodScore::view: return "view";
    case OodScore::combined: return "combined";
    case OodScore::energy: return "energy";
    case OodScore::max_softmax: return "max_softmax";
  }
  return "?";
}

std::optional<OodScore> parse_ood_score(const std::string& name) {
  for (OodScore s : kOodScores)
    if (ood_score_name(s) == name) return s;
  return std::nullopt;
}

// By Cholesky: a = L L^T, then L^T X = L^-1 column by column.
std::vector<double> spd_inverse(std::vector<double> a, int n) {
  const auto at = [n](std::vector<double>& m, int i, int j) -> double& {
    return m[std::size_t(i) * n + j];
  };
  for (int j = 0; j < n; ++j) {
    double diag = at(a, j, j);
    for (int p = 0; p < j; ++p) diag -= at(a, j, p) * at(a, j, p);
    CXR_CHECK(diag > 0, "Mahalanobis: the covariance is not positive definite (pivot {} = {})", j, diag);
    at(a, j, j) = std::sqrt(diag);
    for (int i = j + 1; i < n; ++i) {
      double v = at(a, i, j);
      for (int p = 0; p < j; ++p) v -= at(a, i, p) * at(a, j, p);
      at(a, i, j) = v / at(a, j, j);
    }
  }
  std::vector<double> inv(std::size_t(n) * n, 0.0), col(n);
  for (int e = 0; e < n; ++e) {
    for (int i = 0; i < n; ++i) {  // forward: L y = e_e
      double v = i == e ? 1.0 : 0.0;
      for (int p = 0; p < i; ++p) v -= at(a, i, p) * col[p];
      col[i] = v / at(a, i, i);
    }
    for (int i = n - 1; i >= 0; --i) {  // backward: L^T x = y
      double v = col[i];
      for (int p = i + 1; p < n; ++p) v -= at(a, p, i) * col[p];
      col[i] = v / at(a, i, i);
    }
    for (int i = 0; i < n; ++i) at(inv, i, e) = col[i];
  }
  return inv;
}

namespace {

double parse_number(const SafetensorsFile& file, const std::string& key) {
  const auto it = file.metadata.find(key);
  CXR_CHECK(it != file.metadata.end(), "'{}': not a CXR OOD gate: no metadata '{}'", file.path, key);
  double v = 0;
  const auto& s = it->second;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  CXR_CHECK(ec == std::errc() && end == s.data() + s.size() && std::isfinite(v),
            "'{}': metadata {}='{}' is not a number", file.path, key, s);
  return v;
}

std::string number(double v) {
  return fmt::format("{}", v);
}  // shortest round-trip form

MahalanobisStats read_stats(const SafetensorsFile& file, const std::string& prefix) {
  const Tensor& means = file.at(prefix + ".means");
  const Tensor& precision = file.at(prefix + ".precision");
  CXR_CHECK(means.dim() == 2 && precision.dim() == 2 && precision.size(0) == precision.size(1) &&
                precision.size(0) == means.size(1) && means.size(0) > 0 && means.size(1) > 0,
            "'{}': OOD gate tensors {}.* of inconsistent shapes", file.path, prefix);
  MahalanobisStats s;
  s.classes = static_cast<int>(means.size(0));
  s.features = static_cast<int>(means.size(1));
  const Tensor m64 = means.to(DType::F64).contiguous(), p64 = precision.to(DType::F64).contiguous();
  s.means.assign(m64.data<double>(), m64.data<double>() + m64.numel());
  s.precision.assign(p64.data<double>(), p64.data<double>() + p64.numel());
  for (double v : s.means) CXR_CHECK(std::isfinite(v), "'{}': OOD gate {}.means are not finite", file.path, prefix);
  for (double v : s.precision)
    CXR_CHECK(std::isfinite(v), "'{}': OOD gate {}.precision is not finite", file.path, prefix);
  return s;
}

}  // namespace

MahalanobisStats fit_mahalanobis(std::span<const double> features, std::span<const int> labels, int classes,
                                 double ridge) {
  const auto n = static_cast<std::int64_t>(labels.size());
  CXR_CHECK(n > 1 && classes > 0 && features.size() % labels.size() == 0,
            "Mahalanobis: {} feature values for {} images", features.size(), n);
  const int d = static_cast<int>(features.size() / labels.size());
  MahalanobisStats s;
  s.classes = classes;
  s.features = d;
  s.means.assign(std::size_t(classes) * d, 0.0);
  std::vector<std::int64_t> counts(classes, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    CXR_CHECK(labels[i] >= 0 && labels[i] < classes, "Mahalanobis: label {} out of range 0..{}", labels[i],
              classes - 1);
    ++counts[labels[i]];
    for (int f = 0; f < d; ++f) s.means[std::size_t(labels[i]) * d + f] += features[i * d + f];
  }
  for (int c = 0; c < classes; ++c) {
    CXR_CHECK(counts[c] > 0, "Mahalanobis: no training image of class {}", c);
    for (int f = 0; f < d; ++f) s.means[std::size_t(c) * d + f] /= static_cast<double>(counts[c]);
  }
  // The shared covariance: 1/n sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T (upper triangle, then mirrored).
  std::vector<double> cov(std::size_t(d) * d, 0.0), centred(d);
  for (std::int64_t i = 0; i < n; ++i) {
    for (int f = 0; f < d; ++f) centred[f] = features[i * d + f] - s.means[std::size_t(labels[i]) * d + f];
    for (int a = 0; a < d; ++a) {
      const double ca = centred[a];
      double* row = cov.data() + std::size_t(a) * d;
      for (int b = a; b < d; ++b) row[b] += ca * centred[b];
    }
  }
  double mean_variance = 0;
  for (int a = 0; a < d; ++a) {
    for (int b = a; b < d; ++b) cov[std::size_t(b) * d + a] = cov[std::size_t(a) * d + b] /= static_cast<double>(n);
    mean_variance += cov[std::size_t(a) * d + a] / d;
  }
  const double lift = ridge * (mean_variance > 0 ? mean_variance : 1.0);
  for (int a = 0; a < d; ++a) cov[std::size_t(a) * d + a] += lift;
  s.precision = spd_inverse(std::move(cov), d);
  return s;
}

double mahalanobis_score(const MahalanobisStats& stats, std::span<const double> pooled) {
  const int d = stats.features;
  CXR_CHECK(pooled.size() == static_cast<std::size_t>(d), "Mahalanobis: {} features, the gate has {}", pooled.size(),
            d);
  double best = INFINITY;
  std::vector<double> diff(d);
  for (int c = 0; c < stats.classes; ++c) {
    for (int f = 0; f < d; ++f) diff[f] = pooled[f] - stats.means[std::size_t(c) * d + f];
    double q = 0;
    for (int a = 0; a < d; ++a) {
      const double* row = stats.precision.data() + std::size_t(a) * d;
      double v = 0;
      for (int b = 0; b < d; ++b) v += row[b] * diff[b];
      q += diff[a] * v;
    }
    best = std::min(best, q);
  }
  return best;
}

double energy_score(std::span<const double> logits) {
  const double top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (double z : logits) sum += std::exp(z - top);
  return -(top + std::log(sum));
}

double max_softmax_score(std::span<const double> logits) {
  const auto p = softmax_at(logits, 1.0);
  return 1.0 - *std::max_element(p.begin(), p.end());
}

double acceptance_threshold(std::vector<double> scores, double accept_rate) {
  CXR_CHECK(!scores.empty(), "OOD threshold: no validation scores");
  CXR_CHECK(accept_rate > 0 && accept_rate <= 1, "OOD threshold: accept rate {} outside (0, 1]", accept_rate);
  std::sort(scores.begin(), scores.end());
  // The k-th smallest with k = ceil(rate * n): exactly k scores are <= it (ties: more).
  const auto k = static_cast<std::size_t>(std::ceil(accept_rate * static_cast<double>(scores.size()) - 1e-9));
  return scores[std::max<std::size_t>(k, 1) - 1];
}

OodScores OodGate::scores(const ModelOutputs& outputs, std::int64_t i) const {
  OodScores s;
  auto set = [&s](OodScore which, double v) {
    s.values[static_cast<std::size_t>(which)] = v;
  };
  set(OodScore::mahalanobis, mahalanobis_score(mahalanobis, outputs.pooled_of(i)));
  set(OodScore::thumbnail, mahalanobis_score(thumbnail, outputs.thumbnail_of(i)));
  set(OodScore::statistics,
      statistics.features > 0 ? mahalanobis_score(statistics, statistics_input(outputs.statistics_of(i))) : 0.0);
  set(OodScore::view, view.empty() ? 0.0 : view_probability(view, view_inputs(outputs, i)));
  double combined = 0;
  for (OodScore part : parts()) {
    const double ratio = s[part] / limit(part);
    combined = std::isnan(ratio) || std::isnan(combined) ? NAN : std::max(combined, ratio);
  }
  set(OodScore::combined, combined);
  set(OodScore::energy, energy_score(outputs.logits_of(i)));
  set(OodScore::max_softmax, max_softmax_score(outputs.logits_of(i)));
  return s;
}

std::vector<double> OodGate::statistics_input(std::span<const double> rows) const {
  return statistics_log_shares ? log_shares(rows) : std::vector<double>(rows.begin(), rows.end());
}

std::vector<OodScore> OodGate::parts() const {
  std::vector<OodScore> out{OodScore::mahalanobis, OodScore::thumbnail};
  if (statistics.features > 0) out.push_back(OodScore::statistics);
  if (!view.empty()) out.push_back(OodScore::view);
  return out;
}

OodVerdict OodGate::verdict(const ModelOutputs& outputs, std::int64_t i) const {
  OodVerdict v;
  v.all = scores(outputs, i);
  v.score = decides;
  v.value = v.all[decides];
  v.threshold = threshold(decides);
  v.refused = !(v.value <= v.threshold);  // NaN is refused too
  return v;
}

std::string gate_path_for(const std::string& model_path) {
  const fs::path p(model_path);
  if (p.extension() == ".safetensors") return (p.parent_path() / (p.stem().string() + ".ood.safetensors")).string();
  return model_path + ".ood.safetensors";
}

void save_gate(const std::string& path, const OodGate& gate) {
  const auto& m = gate.mahalanobis;
  std::map<std::string, std::string> meta{{"format", kGateFormat},
                                          {"format_version", gate.statistics_log_shares ? "3" : "2"},
                                          {"decides", ood_score_name(gate.decides)},
                                          {"accept_rate", number(gate.accept_rate)},
                                          {"temperature", number(gate.temperature)},
                                          {"fit_images", std::to_string(gate.fit_images)},
                                          {"calibration_images", std::to_string(gate.calibration_images)},
                                          {"model_sha256", gate.model_sha256}};
  for (OodScore s : kOodScores) meta["threshold." + ood_score_name(s)] = number(gate.threshold(s));
  for (OodScore part : gate.parts()) meta["limit." + ood_score_name(part)] = number(gate.limit(part));
  std::vector<std::pair<std::string, Tensor>> tensors;
  auto add_stats = [&tensors](const std::string& prefix, const MahalanobisStats& st) {
    tensors.emplace_back(prefix + ".means", Tensor::from_vector(st.means, {st.classes, st.features}, DType::F64));
    tensors.emplace_back(prefix + ".precision",
                         Tensor::from_vector(st.precision, {st.features, st.features}, DType::F64));
  };
  add_stats("mahalanobis", m);
  add_stats("thumbnail", gate.thumbnail);
  if (gate.statistics.features > 0) add_stats("statistics", gate.statistics);
  if (!gate.view.empty()) {
    const auto n = static_cast<std::int64_t>(gate.view.weights.size());
    tensors.emplace_back("view.mean", Tensor::from_vector(gate.view.mean, {n}, DType::F64));
    tensors.emplace_back("view.scale", Tensor::from_vector(gate.view.scale, {n}, DType::F64));
    tensors.emplace_back("view.weights", Tensor::from_vector(gate.view.weights, {n}, DType::F64));
    tensors.emplace_back("view.bias", Tensor::from_vector(std::vector<double>{gate.view.bias}, {1}, DType::F64));
  }
  save_safetensors(path, tensors, meta);
}

namespace {

std::vector<double> read_vector(const SafetensorsFile& file, const std::string& name, std::int64_t n) {
  const Tensor& t = file.at(name);
  CXR_CHECK(t.dim() == 1 && t.size(0) == n, "'{}': OOD gate tensor {} of shape {}, expected [{}]", file.path, name,
            shape_str(t.shape()), n);
  const Tensor d = t.to(DType::F64).contiguous();
  std::vector<double> v(d.data<double>(), d.data<double>() + n);
  for (double x : v) CXR_CHECK(std::isfinite(x), "'{}': OOD gate tensor {} is not finite", file.path, name);
  return v;
}

ViewProbe read_view(const SafetensorsFile& file, int features) {
  ViewProbe v;
  const std::int64_t n = features + kThumbnailSide * kThumbnailSide;
  v.mean = read_vector(file, "view.mean", n);
  v.scale = read_vector(file, "view.scale", n);
  v.weights = read_vector(file, "view.weights", n);
  v.bias = read_vector(file, "view.bias", 1)[0];
  for (double x : v.scale) CXR_CHECK(x > 0, "'{}': OOD gate view.scale is not positive", file.path);
  return v;
}

}  // namespace

OodGate load_gate(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  const auto format = file.metadata.find("format");
  CXR_CHECK(format != file.metadata.end() && format->second == kGateFormat, "'{}': not a CXR OOD gate (format {})",
            path, format == file.metadata.end() ? "missing" : "'" + format->second + "'");
  const auto version = file.metadata.find("format_version");
  CXR_CHECK(
      version != file.metadata.end() && (version->second == "1" || version->second == "2" || version->second == "3"),
      "'{}': OOD gate format version {} is not one this build reads (1 to 3): refit it with cxr ood fit", path,
      version == file.metadata.end() ? "missing" : "'" + version->second + "'");
  const bool version1 = version->second == "1";  // before the statistics and view scores
  OodGate g;
  g.statistics_log_shares = version->second == "3";
  g.mahalanobis = read_stats(file, "mahalanobis");
  g.thumbnail = read_stats(file, "thumbnail");
  CXR_CHECK(g.thumbnail.features == kThumbnailSide * kThumbnailSide, "'{}': a thumbnail of {} cells, expected {}", path,
            g.thumbnail.features, kThumbnailSide * kThumbnailSide);
  if (file.contains("statistics.means")) {
    g.statistics = read_stats(file, "statistics");
    CXR_CHECK(g.statistics.features == kImageStatistics, "'{}': {} image statistics, expected {}", path,
              g.statistics.features, kImageStatistics);
  }
  if (file.contains("view.weights")) g.view = read_view(file, g.mahalanobis.features);
  const auto decides = parse_ood_score(file.metadata.count("decides") ? file.metadata.at("decides") : "");
  CXR_CHECK(decides.has_value(), "'{}': OOD gate without a known deciding score", path);
  g.decides = *decides;
  for (OodScore s : kOodScores) {
    const bool absent = version1 && (s == OodScore::statistics || s == OodScore::view);
    g.thresholds[static_cast<std::size_t>(s)] = absent ? 1.0 : parse_number(file, "threshold." + ood_score_name(s));
  }
  for (OodScore part : g.parts()) {
    g.limits[static_cast<std::size_t>(part)] =
        version1 ? g.threshold(part) : parse_number(file, "limit." + ood_score_name(part));
    CXR_CHECK(g.limit(part) > 0, "'{}': combined's limit for {} is not positive", path, ood_score_name(part));
  }
  g.accept_rate = parse_number(file, "accept_rate");
  g.temperature = parse_number(file, "temperature");
  CXR_CHECK(g.temperature > 0, "'{}': temperature {} is not positive", path, g.temperature);
  g.fit_images = static_cast<std::int64_t>(parse_number(file, "fit_images"));
  g.calibration_images = static_cast<std::int64_t>(parse_number(file, "calibration_images"));
  const auto sha = file.metadata.find("model_sha256");
  CXR_CHECK(sha != file.metadata.end() && sha->second.size() == 64, "'{}': OOD gate without the model's SHA-256", path);
  g.model_sha256 = sha->second;
  return g;
}

std::optional<OodGate> load_gate_for(const std::string& model_path) {
  const std::string path = gate_path_for(model_path);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  OodGate gate = load_gate(path);
  CXR_CHECK(gate.model_sha256 == data::file_sha256(model_path),
            "'{}' was fitted for another model file than '{}': refit it (cxr ood fit) or remove it", path, model_path);
  return gate;
}

}  // namespace cxr
