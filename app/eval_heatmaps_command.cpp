// `cxr eval-heatmaps --data DIR --model FILE`: how faithful, how well placed and how
// model-dependent the maps of every explanation method are (models/explain/registry.h),
// side by side with a random map (models/heatmap_eval.h, models/explain/road.h).
//
//   faithfulness  blur deletion and insertion AUC, and ROAD (noisy linear imputation,
//                 most- and least-relevant first), on up to --limit images of the
//                 split, drawn in a seeded random order (so the classes mix); with
//                 --stratify, in turn from each (class, source) stratum, so that
//                 small strata are all in and large ones equally represented
//   localisation  energy inside the lung boxes and the pointing game on the
//                 split's ieee8023 images that have COCO lung boxes (up to --limit)
//   sanity        model randomisation (Adebayo et al. 2018) on the first --sanity
//                 faithfulness images: Spearman rho between the map of the trained
//                 model and the map of the same architecture with every weight
//                 re-initialised, and with only the classifier layer re-initialised
//                 (the top of Adebayo's cascade). Low rho: the map depends on what
//                 the model learnt. With --label-random-model, also label
//                 randomisation: rho with the map of a model of the same
//                 architecture trained on permuted labels (scripts/label-randomisation).
//   runtime       milliseconds per image of each method, on --device
// The images are measured in draw order (the faithfulness ones, then the other boxed
// ones); --max-seconds stops a long run between images and reports those done.
// Every measure is a mean over images with a 95% bootstrap interval (models/explain/
// mean_interval.h) and its standard error.
// Every map explains the predicted class (the CAM methods at the last convolutional
// block). The lung boxes need the decoded size of each source file, so the ieee8023
// folder must be at hand (--covid, default: the one the dataset was built from, as
// stats.json records it).
#include "app/commands.h"
#include "app/progress.h"
#include "base/parallel.h"
#include "data/dataset.h"
#include "data/labels.h"
#include "engine/io/atomic_file.h"
#include "models/dataset_settings.h"
#include "models/device_choice.h"
#include "models/explain/gallery.h"
#include "models/explain/mean_interval.h"
#include "models/explain/rank_correlation.h"
#include "models/explain/registry.h"
#include "models/explain/road.h"
#include "models/explain/stratified_order.h"
#include "models/heatmap_eval.h"
#include "models/inference.h"
#include "models/lung_fields.h"
#include "models/presets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace cxr::cli {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct EvalHeatmapsOptions {
  std::string data, model, json, split = "test", covid, boxes;
  int limit = 40;
  int steps = 16;
  double blur_sigma = 5.0;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string device = "cpu";
  std::vector<std::string> methods;  // empty: every method of the registry
  int sanity = 8;
  bool road = true;
  int ig_steps = 16;
  int occlusion_patch = 16, occlusion_stride = 16;
  std::string gallery;  // PNG: the first --gallery-images faithfulness images through every method
  int gallery_images = 3;
  bool stratify = false;
  std::string label_random_model;  // a model trained on permuted labels (label randomisation)
  double max_seconds = 0;          // > 0: start no image after this long; report the ones done
};

// Mean, standard error of the mean and a 95% bootstrap interval.
struct Summary {
  std::vector<double> values;
  double mean() const {
    double sum = 0;
    for (double v : values) sum += v;
    return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
  }
  json::object to_json() const {
    const double n = static_cast<double>(values.size());
    if (values.empty()) return {{"n", 0}, {"mean", nullptr}, {"stderr", nullptr}, {"ci95", nullptr}};
    double mean = 0, var = 0;
    for (double v : values) mean += v / n;
    for (double v : values) var += (v - mean) * (v - mean);
    const double se = values.size() > 1 ? std::sqrt(var / (n - 1) / n) : 0.0;
    const MeanInterval ci = bootstrap_mean(values);
    return {{"n", values.size()}, {"mean", mean}, {"stderr", se}, {"ci95", json::array{ci.low, ci.high}}};
  }
  std::string text() const {
    if (values.empty()) return "n/a";
    const MeanInterval ci = bootstrap_mean(values);
    return fmt::format("{:.3f} [{:.3f}, {:.3f}]", ci.mean, ci.low, ci.high);
  }
};

void run_eval_heatmaps(const EvalHeatmapsOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const Device device = resolve_device(opt.device);
  LoadedModel model = load_model(opt.model);
  model.params->to(device);
  ClassifierNet& net = *model.net;
  const data::Dataset dataset = data::Dataset::open(opt.data);
  check_dataset_matches_model(dataset, model.info, opt.data, opt.model);
  const int size = dataset.image_size();                // the fitted square of the cache
  const int input_size = model.info.config.input_size;  // the maps' square (the same or resized)
  const data::Fit fit = dataset.fit();
  std::vector<std::string> names = opt.methods.empty() ? explanation_method_names() : opt.methods;
  for (const auto& name : names) explanation_method(name);  // unknown names fail before any work
  const std::size_t kRandom = names.size();
  names.push_back("random");
  const std::size_t num_maps = names.size();

  // The randomised models of the sanity check: every weight fresh, and the trained
  // model with a fresh classifier layer.
  auto random_net = make_net(model.info.config, 1);
  ParameterSet random_params(*random_net, opt.seed + 100);
  LoadedModel top_random = load_model(opt.model);
  for (const auto& p : top_random.params->parameters())
    if (p.name.rfind("classifier.", 0) == 0)
      for (const auto& q : random_params.parameters())
        if (q.name == p.name) Tensor(p.tensor).copy_(q.tensor);
  random_params.to(device);
  top_random.params->to(device);
  std::optional<LoadedModel> label_random;
  if (!opt.label_random_model.empty()) {
    label_random = load_model(opt.label_random_model);
    CXR_CHECK(label_random->info.config.num_classes == model.info.config.num_classes,
              "--label-random-model {} has {} classes, the model {}", opt.label_random_model,
              label_random->info.config.num_classes, model.info.config.num_classes);
    label_random->params->to(device);
  }

  // Lung boxes, when the ieee8023 folder can be found.
  const std::string covid = !opt.covid.empty() ? opt.covid : dataset_covid_dir(opt.data).string();
  const std::string boxes_path = !opt.boxes.empty() ? opt.boxes : default_lung_boxes(covid).string();
  std::map<std::string, AnnotatedImage> boxes;
  if (!covid.empty() && fs::exists(boxes_path))
    boxes = read_coco_boxes(boxes_path);
  else
    fmt::print(stderr, "cxr eval-heatmaps: no lung boxes at '{}' (give --covid or --boxes); localisation skipped\n",
               boxes_path);

  // The images: a seeded shuffle of the split for faithfulness; the boxed ieee8023 ones.
  std::vector<std::int64_t> order = dataset.indices(*data::split_from_name(opt.split));
  Generator gen(opt.seed);
  shuffle(order, gen);
  if (opt.stratify)  // strata: label x source
    order = stratified_order(order, [&](std::int64_t i) {
      return std::int64_t{dataset.row(i).label} * data::kNumSources + static_cast<int>(dataset.row(i).source);
    });
  std::vector<std::int64_t> faithful_set(order.begin(), order.begin() + std::min<std::size_t>(order.size(), opt.limit));
  std::vector<std::int64_t> boxed_set;
  for (std::int64_t i : order) {
    const auto& row = dataset.row(i);
    const std::string name = fs::path(row.source_path).filename().string();
    if (row.source == data::Source::ieee8023 && boxes.count(name) && static_cast<int>(boxed_set.size()) < opt.limit)
      boxed_set.push_back(i);
  }
  const std::set<std::int64_t> faithful(faithful_set.begin(), faithful_set.end());
  // In draw order: the faithfulness images, then the boxed ones not among them, so
  // that a run stopped by --max-seconds has measured a prefix of the draw (each
  // image's numbers do not depend on the order: its noise is seeded by its id).
  std::vector<std::int64_t> todo = faithful_set;
  for (std::int64_t i : boxed_set)
    if (!faithful.count(i)) todo.push_back(i);
  const std::set<std::int64_t> boxed(boxed_set.begin(), boxed_set.end());
  const std::set<std::int64_t> sanity(faithful_set.begin(),
                                      faithful_set.begin() + std::min<std::size_t>(faithful_set.size(), opt.sanity));

  ExplainSettings settings;
  settings.ig_steps = opt.ig_steps;
  settings.occlusion_patch = opt.occlusion_patch;
  settings.occlusion_stride = opt.occlusion_stride;
  settings.seed = opt.seed;
  RoadSettings road_settings;
  std::vector<Summary> deletion(num_maps), insertion(num_maps), morf(num_maps), lerf(num_maps), energy(num_maps),
      hits(num_maps), rho_weights(num_maps), rho_classifier(num_maps), rho_labels(num_maps), runtime_ms(num_maps);
  Summary area;
  std::vector<data::GreyImage> gallery_xrays;
  std::vector<std::vector<Tensor>> gallery_maps;
  const std::set<std::int64_t> gallery(
      faithful_set.begin(), faithful_set.begin() + std::min<std::size_t>(faithful_set.size(), opt.gallery_images));
  json::array per_image;
  Progress progress;
  const auto start = std::chrono::steady_clock::now();
  std::int64_t done = 0, aspect_mismatches = 0, faithful_done = 0, sanity_done = 0;
  bool out_of_time = false;
  for (std::int64_t i : todo) {
    if (opt.max_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > opt.max_seconds) {
      out_of_time = true;
      break;
    }
    faithful_done += static_cast<std::int64_t>(faithful.count(i));
    sanity_done += static_cast<std::int64_t>(sanity.count(i));
    const auto& row = dataset.row(i);
    const Tensor input = normalised_input(dataset.pixels(i), size, model.info);
    const ScoredImage scored = predict_one(net, input, -1);
    const int target = scored.target;
    std::vector<Tensor> maps(num_maps);
    json::object record{{"id", row.id},
                        {"source_path", row.source_path},
                        {"label", data::target_names(dataset.num_classes())[row.label]},
                        {"explained", model.info.class_names[target]},
                        {"probability", scored.probabilities[target]}};
    for (std::size_t m = 0; m < kRandom; ++m) {
      const auto t0 = std::chrono::steady_clock::now();
      const Explanation e = explain_with(net, input, names[m], target, settings);
      runtime_ms[m].values.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      maps[m] = e.map;
      for (const auto& [fact, value] : e.facts) record[names[m] + "_" + fact] = value;
      if (sanity.count(i)) {
        // rho is undefined (NaN) when a map is constant, e.g. all zeros: left out and
        // recorded as null.
        const double all = spearman(maps[m], explain_with(*random_net, input, names[m], target, settings).map);
        const double top = spearman(maps[m], explain_with(*top_random.net, input, names[m], target, settings).map);
        if (!std::isnan(all)) rho_weights[m].values.push_back(all);
        if (!std::isnan(top)) rho_classifier[m].values.push_back(top);
        record[names[m] + "_rho_random_weights"] = std::isnan(all) ? json::value(nullptr) : json::value(all);
        record[names[m] + "_rho_random_classifier"] = std::isnan(top) ? json::value(nullptr) : json::value(top);
        if (label_random) {
          const Tensor permuted_input = normalised_input(dataset.pixels(i), size, label_random->info);
          const double labels =
              spearman(maps[m], explain_with(*label_random->net, permuted_input, names[m], target, settings).map);
          if (!std::isnan(labels)) rho_labels[m].values.push_back(labels);
          record[names[m] + "_rho_label_random"] = std::isnan(labels) ? json::value(nullptr) : json::value(labels);
        }
      }
    }
    Generator noise(opt.seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(row.id));
    maps[kRandom] = Tensor::empty({input_size, input_size}, DType::F64);
    for (std::int64_t p = 0; p < maps[kRandom].numel(); ++p) maps[kRandom].data<double>()[p] = noise.uniform();

    if (!opt.gallery.empty() && gallery.count(i) && size == input_size) {
      gallery_xrays.push_back(
          {size, size, std::vector<std::uint8_t>(dataset.pixels(i), dataset.pixels(i) + size * size)});
      gallery_maps.emplace_back(maps.begin(), maps.begin() + static_cast<std::ptrdiff_t>(kRandom));
      record["gallery_row"] = static_cast<std::int64_t>(gallery_xrays.size()) - 1;
    }
    if (faithful.count(i)) {
      const Tensor baseline = gaussian_blur(input, opt.blur_sigma);
      const ScoreFn score = [&](const Tensor& batch) {
        std::vector<double> out;
        for (const auto& p : predict_probabilities(net, batch)) out.push_back(p[target]);
        return out;
      };
      for (std::size_t m = 0; m < num_maps; ++m) {
        const auto heat_order = order_by_heat(maps[m], noise);
        const auto r = deletion_insertion(score, input, baseline, heat_order, opt.steps);
        deletion[m].values.push_back(r.deletion.auc);
        insertion[m].values.push_back(r.insertion.auc);
        record[names[m] + "_deletion_auc"] = r.deletion.auc;
        record[names[m] + "_insertion_auc"] = r.insertion.auc;
        if (opt.road) {
          const RoadResult rr = road(score, input, heat_order, road_settings, noise);
          morf[m].values.push_back(rr.morf_area);
          lerf[m].values.push_back(rr.lerf_area);
          record[names[m] + "_road_morf"] = rr.morf_area;
          record[names[m] + "_road_lerf"] = rr.lerf_area;
        }
      }
    }
    if (boxed.count(i)) {
      const fs::path file = fs::path(covid) / row.source_path;
      const auto& annotated = boxes.at(file.filename().string());
      // A file whose shape is not the annotated one's is another crop of the figure
      // (3 upstream files): its boxes would land in the wrong place.
      const auto on_square = file_boxes_on_map(annotated, file, size, fit, input_size);
      if (!on_square) {
        ++aspect_mismatches;
        fmt::print(stderr, "cxr eval-heatmaps: {} was annotated at {}x{}, another aspect ratio; no boxes\n",
                   row.source_path, annotated.width, annotated.height);
        per_image.push_back(std::move(record));
        progress.update("heatmaps", ++done, static_cast<std::int64_t>(todo.size()));
        continue;
      }
      const auto mask = box_mask(input_size, *on_square);
      area.values.push_back(mask_share(mask));
      record["box_area_share"] = mask_share(mask);
      for (std::size_t m = 0; m < num_maps; ++m) {
        energy[m].values.push_back(energy_inside(maps[m], mask));
        hits[m].values.push_back(pointing_hit(maps[m], mask) ? 1.0 : 0.0);
        record[names[m] + "_energy_inside"] = energy[m].values.back();
        record[names[m] + "_pointing_hit"] = hits[m].values.back() > 0;
      }
    }
    per_image.push_back(std::move(record));
    progress.update("heatmaps", ++done, static_cast<std::int64_t>(todo.size()));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  fmt::print("cxr eval-heatmaps: {} on the {} split of {} ({:.0f} s)\n\n", opt.model, opt.split, opt.data, seconds);
  if (out_of_time)
    fmt::print("stopped after --max-seconds {}: {} of {} images measured, in draw order\n\n", opt.max_seconds, done,
               todo.size());
  fmt::print(
      "faithfulness on {} images (blur: {} steps, sigma {} px; ROAD: noisy linear imputation at {} of the "
      "pixels; mean [95% bootstrap interval])\n",
      faithful_done, opt.steps, opt.blur_sigma, fmt::join(road_settings.fractions, "/"));
  fmt::print("  {:<22}{:>24}{:>24}{:>24}{:>24}{:>12}\n", "map", "deletion (low)", "insertion (high)", "ROAD MoRF (low)",
             "ROAD LeRF (high)", "ms / image");
  for (std::size_t m = 0; m < num_maps; ++m)
    fmt::print("  {:<22}{:>24}{:>24}{:>24}{:>24}{:>12}\n", names[m], deletion[m].text(), insertion[m].text(),
               morf[m].text(), lerf[m].text(), m == kRandom ? "" : fmt::format("{:.0f}", runtime_ms[m].mean()));
  fmt::print(
      "\nsanity on {} images: Spearman rho with the trained model's map (low: the map depends on the model; "
      "n: images where both maps vary)\n",
      sanity_done);
  fmt::print("  {:<22}{:>34}{:>34}{:>34}\n", "map", "all weights random", "classifier random", "permuted labels");
  for (std::size_t m = 0; m < kRandom; ++m)
    fmt::print("  {:<22}{:>34}{:>34}{:>34}\n", names[m],
               fmt::format("{} (n {})", rho_weights[m].text(), rho_weights[m].values.size()),
               fmt::format("{} (n {})", rho_classifier[m].text(), rho_classifier[m].values.size()),
               label_random ? fmt::format("{} (n {})", rho_labels[m].text(), rho_labels[m].values.size()) : "");
  fmt::print("\nlocalisation on {} ieee8023 images with lung boxes\n", area.values.size());
  fmt::print("  {:<22}{:>24}{:>24}\n", "map", "energy in boxes", "pointing game hits");
  for (std::size_t m = 0; m < num_maps; ++m)
    fmt::print("  {:<22}{:>24}{:>24}\n", names[m], energy[m].text(), hits[m].text());
  fmt::print("  {:<22}{:>22}   (chance level: share of the image in the boxes)\n", "box area", area.text());
  fmt::print("\nNote: {}.\n", kShortcutCaveat);

  if (!gallery_xrays.empty()) {
    const int shrink = size % 2 == 0 ? 2 : 1;
    write_file_atomically(
        opt.gallery, encode_png(explanation_gallery(gallery_xrays, gallery_maps, 0.5, shrink),
                                {{"Software", fmt::format("cxr {}", CXR_VERSION)},
                                 {"Description", fmt::format("rows: {} test X-rays; columns: {}", gallery_xrays.size(),
                                                             fmt::join(names.begin(), names.end() - 1, ", "))}}));
    fmt::print("wrote {}\n", opt.gallery);
  }

  if (!opt.json.empty()) {
    json::object methods;
    for (std::size_t m = 0; m < num_maps; ++m)
      methods[names[m]] = json::object{{"deletion_auc", deletion[m].to_json()},
                                       {"insertion_auc", insertion[m].to_json()},
                                       {"road_morf", morf[m].to_json()},
                                       {"road_lerf", lerf[m].to_json()},
                                       {"rho_random_weights", rho_weights[m].to_json()},
                                       {"rho_random_classifier", rho_classifier[m].to_json()},
                                       {"rho_label_random", rho_labels[m].to_json()},
                                       {"ms_per_image", runtime_ms[m].to_json()},
                                       {"energy_inside_boxes", energy[m].to_json()},
                                       {"pointing_game_hit_rate", hits[m].to_json()}};
    json::object out{{"model", opt.model},
                     {"data", opt.data},
                     {"split", opt.split},
                     {"layer", net.cam_layer()},
                     {"explained_class", "predicted"},
                     {"steps", opt.steps},
                     {"blur_sigma_px", opt.blur_sigma},
                     {"road_fractions", json::value_from(road_settings.fractions)},
                     {"road_noise", road_settings.noise},
                     {"ig_steps", opt.ig_steps},
                     {"occlusion_patch", opt.occlusion_patch},
                     {"occlusion_stride", opt.occlusion_stride},
                     {"device", opt.device},
                     {"seed", opt.seed},
                     {"stratified", opt.stratify},
                     {"label_random_model", label_random ? json::value(opt.label_random_model) : json::value(nullptr)},
                     {"faithfulness_images", faithful_done},
                     {"sanity_images", sanity_done},
                     {"max_seconds", opt.max_seconds},
                     {"stopped_after_max_seconds", out_of_time},
                     {"images_planned", todo.size()},
                     {"localisation_images", area.values.size()},
                     {"skipped_aspect_mismatch", aspect_mismatches},
                     {"boxes", boxes.empty() ? json::value(nullptr) : json::value(boxes_path)},
                     {"box_area_share", area.to_json()},
                     {"methods", std::move(methods)},
                     {"seconds", seconds},
                     {"caveat", kShortcutCaveat},
                     {"images", std::move(per_image)}};
    write_file_atomically(opt.json, json::serialize(out) + "\n");
    fmt::print("wrote {}\n", opt.json);
  }
}

}  // namespace

void add_eval_heatmaps_command(CLI::App& app) {
  auto opt = std::make_shared<EvalHeatmapsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval-heatmaps",
      "Faithfulness (deletion/insertion, ROAD), sanity, localisation and runtime of every explanation method");
  cmd->add_option("--data", opt->data, "dataset directory (cxr data build)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--model", opt->model, "model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--split", opt->split, "train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--limit", opt->limit, "at most this many images for each measure")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--steps", opt->steps, "deletion/insertion steps")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--blur-sigma", opt->blur_sigma, "Gaussian blur of the baseline, in input pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--covid", opt->covid, "ieee8023 folder (default: the dataset's, from stats.json)");
  cmd->add_option("--boxes", opt->boxes,
                  "COCO lung boxes (default: <covid>/annotations/imageannotation_ai_lung_bounding_boxes.json)");
  cmd->add_option("--seed", opt->seed, "seed of the image order, the random maps and tie-breaking")
      ->capture_default_str();
  cmd->add_option("--methods", opt->methods, "explanation methods to compare (default: all)")
      ->check(CLI::IsMember(explanation_method_names()));
  cmd->add_flag("--stratify", opt->stratify,
                "draw the images in turn from each (class, source) stratum of the split instead of at random");
  cmd->add_option("--label-random-model", opt->label_random_model,
                  "also the label-randomisation check: a model of the same architecture trained on permuted labels")
      ->check(CLI::ExistingFile);
  cmd->add_option("--sanity", opt->sanity, "images of the model-randomisation check (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--road", opt->road, "also measure ROAD (noisy linear imputation)")->capture_default_str();
  cmd->add_option("--ig-steps", opt->ig_steps, "integrated-gradients steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--occlusion-patch", opt->occlusion_patch, "occlusion patch side, input pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--occlusion-stride", opt->occlusion_stride, "occlusion stride, input pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--gallery", opt->gallery,
                  "write a PNG: the first --gallery-images faithfulness images (rows) through every method (columns)");
  cmd->add_option("--gallery-images", opt->gallery_images, "rows of the gallery")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-seconds", opt->max_seconds,
                  "start no new image after this many seconds and report the images done, a prefix of the draw "
                  "(0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--json", opt->json, "write the summary and per-image values to this JSON file");
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  cmd->callback([opt] { run_eval_heatmaps(*opt); });
}

}  // namespace cxr::cli
