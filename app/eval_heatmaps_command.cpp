// `cxr eval-heatmaps --data DIR --model FILE`: how faithful and how well placed the
// model's Grad-CAM and Grad-CAM++ maps are, next to a random map (models/heatmap_eval.h).
//
//   faithfulness  deletion and insertion AUC on up to --limit images of the split,
//                 drawn in a seeded random order (so the classes mix)
//   localisation  energy inside the lung boxes and the pointing game on the
//                 split's ieee8023 images that have COCO lung boxes (up to --limit)
// Every map explains the predicted class at the last convolutional block. The lung boxes need the
// decoded size of each source file, so the ieee8023 folder must be at hand (--covid,
// default: the one the dataset was built from, as stats.json records it).
#include "app/commands.h"
#include "app/progress.h"
#include "base/parallel.h"
#include "data/dataset.h"
#include "data/labels.h"
#include "engine/io/atomic_file.h"
#include "models/dataset_settings.h"
#include "models/device_choice.h"
#include "models/gradcam.h"
#include "models/heatmap_eval.h"
#include "models/inference.h"
#include "models/lung_fields.h"

#include <fmt/format.h>
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
};

constexpr const char* kMaps[] = {"gradcam", "gradcam++", "random"};
constexpr int kNumMaps = 3;

// Mean and standard error of the mean.
struct Summary {
  std::vector<double> values;
  json::object to_json() const {
    const double n = static_cast<double>(values.size());
    if (values.empty()) return {{"n", 0}, {"mean", nullptr}, {"stderr", nullptr}};
    double mean = 0, var = 0;
    for (double v : values) mean += v / n;
    for (double v : values) var += (v - mean) * (v - mean);
    const double se = values.size() > 1 ? std::sqrt(var / (n - 1) / n) : 0.0;
    return {{"n", values.size()}, {"mean", mean}, {"stderr", se}};
  }
  std::string text() const {
    const json::object o = to_json();
    if (values.empty()) return "n/a";
    return fmt::format("{:.3f} ± {:.3f}", o.at("mean").as_double(), o.at("stderr").as_double());
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
  std::vector<std::int64_t> faithful_set(order.begin(), order.begin() + std::min<std::size_t>(order.size(), opt.limit));
  std::vector<std::int64_t> boxed_set;
  for (std::int64_t i : order) {
    const auto& row = dataset.row(i);
    const std::string name = fs::path(row.source_path).filename().string();
    if (row.source == data::Source::ieee8023 && boxes.count(name) && static_cast<int>(boxed_set.size()) < opt.limit)
      boxed_set.push_back(i);
  }
  std::set<std::int64_t> todo(faithful_set.begin(), faithful_set.end());
  todo.insert(boxed_set.begin(), boxed_set.end());
  const std::set<std::int64_t> faithful(faithful_set.begin(), faithful_set.end());
  const std::set<std::int64_t> boxed(boxed_set.begin(), boxed_set.end());

  Summary deletion[kNumMaps], insertion[kNumMaps], energy[kNumMaps], hits[kNumMaps], area;
  json::array per_image;
  Progress progress;
  const auto start = std::chrono::steady_clock::now();
  std::int64_t done = 0, aspect_mismatches = 0;
  for (std::int64_t i : todo) {
    const auto& row = dataset.row(i);
    const Tensor input = normalised_input(dataset.pixels(i), size, model.info);
    Tensor maps[kNumMaps];
    const Heatmap cam = explain(net, input, CamMethod::GradCam);
    maps[0] = cam.map;
    maps[1] = explain(net, input, CamMethod::GradCamPlusPlus, cam.target_class).map;
    Generator noise(opt.seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(row.id));
    maps[2] = Tensor::empty({input_size, input_size}, DType::F64);
    for (std::int64_t p = 0; p < maps[2].numel(); ++p) maps[2].data<double>()[p] = noise.uniform();

    json::object record{{"id", row.id},
                        {"source_path", row.source_path},
                        {"label", data::target_names(dataset.num_classes())[row.label]},
                        {"explained", model.info.class_names[cam.target_class]},
                        {"probability", cam.probabilities[cam.target_class]}};
    if (faithful.count(i)) {
      const Tensor baseline = gaussian_blur(input, opt.blur_sigma);
      const int target = cam.target_class;
      const ScoreFn score = [&](const Tensor& batch) {
        std::vector<double> out;
        for (const auto& p : predict_probabilities(net, batch)) out.push_back(p[target]);
        return out;
      };
      for (int m = 0; m < kNumMaps; ++m) {
        const auto r = deletion_insertion(score, input, baseline, order_by_heat(maps[m], noise), opt.steps);
        deletion[m].values.push_back(r.deletion.auc);
        insertion[m].values.push_back(r.insertion.auc);
        record[std::string(kMaps[m]) + "_deletion_auc"] = r.deletion.auc;
        record[std::string(kMaps[m]) + "_insertion_auc"] = r.insertion.auc;
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
      for (int m = 0; m < kNumMaps; ++m) {
        energy[m].values.push_back(energy_inside(maps[m], mask));
        hits[m].values.push_back(pointing_hit(maps[m], mask) ? 1.0 : 0.0);
        record[std::string(kMaps[m]) + "_energy_inside"] = energy[m].values.back();
        record[std::string(kMaps[m]) + "_pointing_hit"] = hits[m].values.back() > 0;
      }
    }
    per_image.push_back(std::move(record));
    progress.update("heatmaps", ++done, static_cast<std::int64_t>(todo.size()));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  fmt::print("cxr eval-heatmaps: {} on the {} split of {} ({:.0f} s)\n\n", opt.model, opt.split, opt.data, seconds);
  fmt::print("faithfulness on {} images ({} steps, blur sigma {} px; mean ± standard error)\n", faithful_set.size(),
             opt.steps, opt.blur_sigma);
  fmt::print("  {:<12}{:>22}{:>22}\n", "map", "deletion AUC (low)", "insertion AUC (high)");
  for (int m = 0; m < kNumMaps; ++m)
    fmt::print("  {:<12}{:>22}{:>22}\n", kMaps[m], deletion[m].text(), insertion[m].text());
  fmt::print("\nlocalisation on {} ieee8023 images with lung boxes\n", area.values.size());
  fmt::print("  {:<12}{:>22}{:>22}\n", "map", "energy in boxes", "pointing game hits");
  for (int m = 0; m < kNumMaps; ++m) fmt::print("  {:<12}{:>22}{:>22}\n", kMaps[m], energy[m].text(), hits[m].text());
  fmt::print("  {:<12}{:>22}   (chance level: share of the image in the boxes)\n", "box area", area.text());
  fmt::print("\nNote: {}.\n", kShortcutCaveat);

  if (!opt.json.empty()) {
    json::object methods;
    for (int m = 0; m < kNumMaps; ++m)
      methods[kMaps[m]] = json::object{{"deletion_auc", deletion[m].to_json()},
                                       {"insertion_auc", insertion[m].to_json()},
                                       {"energy_inside_boxes", energy[m].to_json()},
                                       {"pointing_game_hit_rate", hits[m].to_json()}};
    json::object out{{"model", opt.model},
                     {"data", opt.data},
                     {"split", opt.split},
                     {"layer", net.cam_layer()},
                     {"explained_class", "predicted"},
                     {"steps", opt.steps},
                     {"blur_sigma_px", opt.blur_sigma},
                     {"seed", opt.seed},
                     {"faithfulness_images", faithful_set.size()},
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
      "eval-heatmaps", "Deletion/insertion AUC and lung-box localisation of Grad-CAM, Grad-CAM++ and a random map");
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
  cmd->add_option("--json", opt->json, "write the summary and per-image values to this JSON file");
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  cmd->callback([opt] { run_eval_heatmaps(*opt); });
}

}  // namespace cxr::cli
