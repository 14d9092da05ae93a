#include "models/lung_energy.h"

#include "models/dataset_eval.h"
#include "models/gradcam.h"
#include "models/heatmap_eval.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <map>
#include <utility>

namespace cxr {

namespace {

struct Sums {
  std::int64_t images = 0, own = 0, predicted = 0;
  double outside = 0, chance = 0;
  void add(double out, double ch, bool own_mask, bool predicted_mask) {
    ++images, own += own_mask, predicted += predicted_mask, outside += out, chance += ch;
  }
  EnergyCell cell(std::string source, std::string predicted_class) const {
    return {std::move(source),
            std::move(predicted_class),
            images,
            own,
            predicted,
            images ? outside / images : 0.0,
            images ? chance / images : 0.0};
  }
};

// A cell without images has no mean: null, so that no reader takes it for 0.
boost::json::object cell_json(const EnergyCell& c) {
  auto mean = [&](double v) {
    return c.images ? boost::json::value(v) : boost::json::value(nullptr);
  };
  return {{"source", c.source},
          {"predicted", c.predicted},
          {"images", c.images},
          {"own_masks", c.own_masks},
          {"predicted_masks", c.predicted_masks},
          {"mean_outside", mean(c.mean_outside)},
          {"mean_chance", mean(c.mean_chance)}};
}

std::string cell_line(const EnergyCell& c, const std::string& name, bool with_predicted) {
  const std::string predicted = with_predicted ? fmt::format("{:>11}", c.predicted_masks) : "";
  return fmt::format("  {:<24}{:>7}{:>10}{}{:>12.3f}{:>10.3f}\n", name, c.images, c.own_masks, predicted,
                     c.mean_outside, c.mean_chance);
}

}  // namespace

LungEnergyReport lung_energy(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                             std::span<const std::int64_t> indices, const LungFields& fields, int batch,
                             const std::function<void(std::int64_t)>& progress, const std::string& lung_model) {
  LungEnergyReport r;
  r.prior_share = fields.prior_share();
  r.annotated_images = fields.annotated_images();
  std::vector<std::int64_t> measured;
  for (auto i : indices)
    if (fields.mask(i) != nullptr) measured.push_back(i);
  Sums all;
  std::map<std::string, Sums> by_source;
  std::map<std::pair<std::string, std::string>, Sums> by_class;
  std::size_t next = 0;
  for_each_batch(info, dataset, measured, batch, [&](const Tensor& images, std::size_t done) {
    const auto n = static_cast<std::size_t>(images.size(0));
    const auto maps =
        explain_batch(net, images, std::vector<CamMethod>(n, CamMethod::GradCam), std::vector<int>(n, -1));
    for (const Heatmap& h : maps) {
      const std::int64_t i = measured[next++];
      const auto& mask = *fields.mask(i);
      const double outside = 1.0 - energy_inside(h.map, mask);
      const double chance = 1.0 - mask_share(mask);
      const std::string source(data::source_name(dataset.row(i).source));
      const bool own = fields.annotated(i), predicted = fields.predicted(i);
      all.add(outside, chance, own, predicted);
      by_source[source].add(outside, chance, own, predicted);
      by_class[{source, info.class_names[h.target_class]}].add(outside, chance, own, predicted);
    }
    if (progress) progress(static_cast<std::int64_t>(done));
  });
  r.all = all.cell("all", "");
  if (r.all.predicted_masks > 0) r.lung_model = lung_model;
  for (const auto& [source, s] : by_source) r.by_source.push_back(s.cell(source, ""));
  for (const auto& [key, s] : by_class) r.by_source_and_class.push_back(s.cell(key.first, key.second));
  return r;
}

std::string format_lung_energy(const LungEnergyReport& r) {
  if (r.all.images == 0) return "Grad-CAM energy outside the lungs: not measured (no lung boxes found)\n";
  const bool with_predicted = r.all.predicted_masks > 0;
  const std::string elsewhere =
      with_predicted ? fmt::format("elsewhere the mask predicted by the lung segmenter {}", r.lung_model)
                     : fmt::format(
                           "elsewhere the prior: pixels inside at least half of their boxes, {:.0f}% of the "
                           "square",
                           100 * r.prior_share);
  std::string out = fmt::format(
      "Grad-CAM energy outside the lungs (predicted class; own boxes for {} annotated ieee8023 images of the "
      "dataset, {}):\n  {:<24}{:>7}{:>10}{}{:>12}{:>10}\n",
      r.annotated_images, elsewhere, "source / predicted", "images", "own boxes",
      with_predicted ? fmt::format("{:>11}", "predicted") : "", "outside", "chance");
  out += cell_line(r.all, "all", with_predicted);
  for (const auto& c : r.by_source) out += cell_line(c, c.source, with_predicted);
  for (const auto& c : r.by_source_and_class) out += cell_line(c, c.source + " / " + c.predicted, with_predicted);
  return out;
}

boost::json::object lung_energy_to_json(const LungEnergyReport& r) {
  namespace json = boost::json;
  json::array sources, classes;
  for (const auto& c : r.by_source) sources.push_back(cell_json(c));
  for (const auto& c : r.by_source_and_class) classes.push_back(cell_json(c));
  return {{"method", "gradcam, predicted class, default layer"},
          {"annotated_images", r.annotated_images},
          {"prior_share", r.prior_share},
          {"lung_model", r.lung_model.empty() ? json::value(nullptr) : json::value(r.lung_model)},
          {"all", cell_json(r.all)},
          {"by_source", std::move(sources)},
          {"by_source_and_class", std::move(classes)}};
}

}  // namespace cxr
