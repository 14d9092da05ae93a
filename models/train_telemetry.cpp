#include "models/train_telemetry.h"

#include "engine/autograd.h"
#include "models/json_fields.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

namespace cxr {

namespace json = boost::json;

namespace {

// Layer keys in file order, for writing and reading alike.
struct OptionalField {
  const char* key;
  std::optional<double> LayerTelemetry::*member;
};
constexpr OptionalField kLayerFields[] = {{"grad_norm", &LayerTelemetry::grad_norm},
                                          {"weight_norm", &LayerTelemetry::weight_norm},
                                          {"update_norm", &LayerTelemetry::update_norm},
                                          {"update_ratio", &LayerTelemetry::update_ratio},
                                          {"zero_fraction", &LayerTelemetry::zero_fraction},
                                          {"dead_channels", &LayerTelemetry::dead_channels},
                                          {"bn_mean", &LayerTelemetry::bn_mean},
                                          {"bn_var", &LayerTelemetry::bn_var}};

json::value number(double x) {
  if (!std::isfinite(x)) return nullptr;
  return x;
}

double number_from(const json::value& v, std::string_view where) {
  if (v.is_null()) return NAN;  // written for a non-finite value
  return json_fields::to_double(v, where);
}

Tensor host_f64(const Tensor& t) {
  return t.to(Device::cpu()).to(DType::F64).contiguous().clone();
}

// sum of squares of the flat elements [offset, offset + n) of a float64 tensor.
double squares(const Tensor& flat, std::int64_t offset, std::int64_t n) {
  const double* v = flat.data<double>() + offset;
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += v[i] * v[i];
  return s;
}

}  // namespace

std::string telemetry_json_line(const TelemetryRecord& r) {
  json::array layers;
  for (const LayerTelemetry& l : r.layers) {
    json::object o{{"name", l.name}, {"trainable", l.trainable}};
    for (const auto& f : kLayerFields)
      if (l.*f.member) o[f.key] = number(*(l.*f.member));
    layers.push_back(std::move(o));
  }
  return json::serialize(json::object{{"step", r.step},
                                      {"epoch", r.epoch},
                                      {"lr", number(r.lr)},
                                      {"loss", number(r.loss)},
                                      {"layers", std::move(layers)}});
}

TelemetryRecord parse_telemetry_line(const std::string& line) {
  json::value v;
  try {
    v = json::parse(line);
  } catch (const std::exception& e) {
    throw Error(fmt::format("telemetry: not JSON: {}", e.what()));
  }
  const auto& o = json_fields::as_object(v, "telemetry record");
  TelemetryRecord r;
  r.step = json_fields::get_int64(o, "step", "telemetry record");
  r.epoch = json_fields::get_int(o, "epoch", "telemetry record");
  r.lr = number_from(json_fields::get(o, "lr", "telemetry record"), "telemetry lr");
  r.loss = number_from(json_fields::get(o, "loss", "telemetry record"), "telemetry loss");
  for (const auto& item : json_fields::get_array(o, "layers", "telemetry record")) {
    const auto& lo = json_fields::as_object(item, "telemetry layer");
    LayerTelemetry& l = r.layers.emplace_back();
    l.name = json_fields::get_string(lo, "name", "telemetry layer");
    l.trainable = json_fields::get_bool(lo, "trainable", "telemetry layer");
    for (const auto& f : kLayerFields)
      if (const auto* field = lo.if_contains(f.key)) l.*f.member = number_from(*field, f.key);
  }
  return r;
}

std::vector<TelemetryRecord> read_telemetry(const std::filesystem::path& dir) {
  const auto path = dir / kTelemetryFile;
  std::ifstream in(path);
  CXR_CHECK(in.good(), "telemetry: cannot read '{}' (written by cxr train --telemetry {})", path.string(),
            dir.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::vector<TelemetryRecord> records;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    try {
      records.push_back(parse_telemetry_line(lines[i]));
    } catch (const Error& e) {
      if (i + 1 == lines.size()) break;  // torn by a killed run
      throw Error(fmt::format("'{}' line {}: {}", path.string(), i + 1, e.what()));
    }
  }
  return records;
}

TelemetryRecorder::TelemetryRecorder(const std::filesystem::path& dir, int interval) : interval_(interval) {
  CXR_CHECK(interval >= 1, "telemetry: interval {} (expected at least 1 step)", interval);
  std::filesystem::create_directories(dir);
  out_.open(dir / kTelemetryFile, std::ios::app);
  CXR_CHECK(out_.good(), "telemetry: cannot write '{}'", (dir / kTelemetryFile).string());
}

void TelemetryRecorder::map_layers(ClassifierNet& net, const ParameterSet& params) {
  const auto declared = net.parameters();
  CXR_CHECK(declared.size() == params.parameters().size(), "telemetry: the parameter set is not this network's");
  std::set<std::size_t> assigned;
  for (const std::string& name : net.layer_names()) {
    LayerParams& layer = layers_.emplace_back();
    layer.name = name;
    std::set<const Tensor*> slots;
    for (Module* m : net.layer_modules(name)) {
      for (const auto& p : m->parameters()) slots.insert(p.slot);
      for (const auto& b : m->buffers()) {
        if (b.name.ends_with("running_mean")) layer.running_means.push_back(*b.slot);
        if (b.name.ends_with("running_var")) layer.running_vars.push_back(*b.slot);
      }
    }
    for (std::size_t i = 0; i < declared.size(); ++i)
      if (slots.count(declared[i].slot)) {
        layer.parameters.push_back(i);
        assigned.insert(i);
      }
  }
  LayerParams& head = layers_.emplace_back();
  head.name = "head";
  for (std::size_t i = 0; i < declared.size(); ++i)
    if (!assigned.count(i)) head.parameters.push_back(i);
}

void TelemetryRecorder::before_update(const UpdateView& u) {
  if (!due(u.step)) return;
  if (layers_.empty()) map_layers(u.net, u.params);
  pending_ = TelemetryRecord{};
  pending_.step = u.step;
  pending_.epoch = u.epoch;
  values_before_ = host_f64(u.params.values());
  const Tensor grads = host_f64(u.params.grads());
  const auto& entries = u.params.parameters();
  for (const LayerParams& layer : layers_) {
    LayerTelemetry& l = pending_.layers.emplace_back();
    l.name = layer.name;
    if (layer.parameters.empty()) continue;
    double g2 = 0;
    for (std::size_t i : layer.parameters) {
      g2 += squares(grads, entries[i].offset, entries[i].tensor.numel());
      l.trainable = l.trainable || entries[i].offset >= u.first_trainable;
    }
    l.grad_norm = std::sqrt(g2);
  }

  // Zero activations, on a few of the batch's images, in evaluation mode.
  const bool was_training = u.net.training();
  u.net.eval();
  {
    NoGradGuard no_grad;
    const Tensor probe = u.input.slice_rows(0, std::min<std::int64_t>(u.input.size(0), kTelemetryProbeImages));
    for (std::size_t k = 0; k + 1 < layers_.size(); ++k) {
      const Tensor a = host_f64(u.net.forward_until(probe, layers_[k].name));
      const std::int64_t n = a.size(0), C = a.size(1), hw = a.size(2) * a.size(3);
      const double* v = a.data<double>();
      std::int64_t zeros = 0, dead = 0;
      for (std::int64_t c = 0; c < C; ++c) {
        std::int64_t channel_zeros = 0;
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t j = 0; j < hw; ++j) channel_zeros += v[(i * C + c) * hw + j] == 0.0;
        zeros += channel_zeros;
        dead += channel_zeros == n * hw;
      }
      pending_.layers[k].zero_fraction = static_cast<double>(zeros) / static_cast<double>(a.numel());
      pending_.layers[k].dead_channels = static_cast<double>(dead) / static_cast<double>(C);
    }
  }
  u.net.train(was_training);
}

void TelemetryRecorder::after_update(const UpdateView& u) {
  if (!due(u.step) || pending_.step != u.step) return;
  pending_.lr = u.lr;
  pending_.loss = u.loss;
  const Tensor after = host_f64(u.params.values());
  const double* now = after.data<double>();
  const double* before = values_before_.data<double>();
  const auto& entries = u.params.parameters();
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    const LayerParams& layer = layers_[k];
    LayerTelemetry& l = pending_.layers[k];
    if (!layer.parameters.empty()) {
      double w2 = 0, d2 = 0;
      for (std::size_t i : layer.parameters) {
        w2 += squares(after, entries[i].offset, entries[i].tensor.numel());
        for (std::int64_t j = entries[i].offset; j < entries[i].offset + entries[i].tensor.numel(); ++j)
          d2 += (now[j] - before[j]) * (now[j] - before[j]);
      }
      l.weight_norm = std::sqrt(w2);
      l.update_norm = std::sqrt(d2);
      l.update_ratio = w2 > 0 ? *l.update_norm / *l.weight_norm : 0.0;
    }
    if (!layer.running_means.empty()) {
      double abs_mean = 0, var = 0;
      std::int64_t channels = 0;
      for (std::size_t b = 0; b < layer.running_means.size(); ++b) {
        const Tensor m = host_f64(layer.running_means[b]), v = host_f64(layer.running_vars[b]);
        for (std::int64_t c = 0; c < m.numel(); ++c) abs_mean += std::abs(m.data<double>()[c]);
        for (std::int64_t c = 0; c < v.numel(); ++c) var += v.data<double>()[c];
        channels += m.numel();
      }
      l.bn_mean = abs_mean / static_cast<double>(channels);
      l.bn_var = var / static_cast<double>(channels);
    }
  }
  out_ << telemetry_json_line(pending_) << '\n';
  out_.flush();
  CXR_CHECK(out_.good(), "telemetry: writing the record of step {} failed", u.step);
}

void TelemetryRecorder::attach(TrainCallbacks& callbacks) {
  callbacks.before_update = [this](const UpdateView& u) {
    before_update(u);
  };
  callbacks.after_update = [this](const UpdateView& u) {
    after_update(u);
  };
}

}  // namespace cxr
