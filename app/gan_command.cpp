// `cxr gan train | sample`: a DCGAN X-ray generator (models/gan_trainer.h) trained on
// one class's frontal X-rays of a built dataset's train split.
//   train   --data DIR --out FILE [--steps N] [--resume]: writes a checkpoint every
//           --checkpoint-every steps and at the end (atomically); --resume continues
//           the run in FILE up to --steps, exactly as if it had not stopped
//   sample  --model FILE --count N --out DIR [--seed S] [--grid FILE]: PNGs named
//           synthetic-<class>-<seed>-<i>.png, tagged synthetic in their tEXt chunks
//   evaluate --data DIR --model FILE --out DIR: CXR-FD, nearest neighbours and the
//           augmentation experiment (models/gan_evaluation.h) as evaluation.json,
//           with a sample grid and the closest generated/train pairs as PNGs
#include "app/commands.h"
#include "base/parallel.h"
#include "data/dataset.h"
#include "engine/io/atomic_file.h"
#include "models/gan_data.h"
#include "models/gan_evaluation.h"
#include "models/gan_montage.h"
#include "models/gan_trainer.h"
#include "models/inference.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace cxr::cli {

namespace {

struct GanOptions {
  std::string data, out, model, class_name = "covid", grid, classifier;
  int steps = 2000, checkpoint_every = 100, log_every = 25, threads = 0, count = 16;
  GanConfig config;
  GanTrainOptions train;
  std::uint64_t sample_seed = 1;
  bool resume = false;
};

constexpr const char* kSyntheticNote = "synthetic image made by a GAN (cxr gan sample); not a real patient";

void run_train(const GanOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const data::Dataset dataset = data::Dataset::open(opt.data);
  const bool exists = std::filesystem::exists(opt.out);
  if (exists && !opt.resume)
    throw Error(opt.out + " exists: pass --resume to continue that run, or choose another --out");
  if (!exists && opt.resume) throw Error(opt.out + ": no checkpoint to resume");
  GanTrainer trainer = exists ? GanTrainer::load(opt.out) : GanTrainer(opt.config, opt.train);
  const auto recorded = [&](const std::string& key) {
    const auto it = trainer.metadata().find(key);
    if (it == trainer.metadata().end()) throw Error(opt.out + ": no '" + key + "' in the checkpoint's metadata");
    return it->second;
  };
  const std::string class_name = exists ? recorded("class") : opt.class_name;
  if (exists && recorded("manifest_sha256") != dataset.manifest_sha256())
    throw Error(opt.out + " was trained on another dataset (its manifest hash differs from " + opt.data + "'s)");
  const GanImages images = load_gan_images(dataset, data::Split::train, class_name, trainer.config().image_size);
  const std::map<std::string, std::string> extra{{"class", class_name},
                                                 {"manifest_sha256", dataset.manifest_sha256()},
                                                 {"train_images", std::to_string(images.rows.size())}};
  fmt::print("{} a {} px DCGAN ({} + {} parameters) on {} frontal '{}' train images, step {} of {}\n",
             exists ? "resuming" : "training", trainer.config().image_size, trainer.generator_parameters().count(),
             trainer.discriminator_parameters().count(), images.rows.size(), class_name, trainer.steps(), opt.steps);
  const auto start = std::chrono::steady_clock::now();
  GanStepResult sum;
  int since_log = 0;
  while (trainer.steps() < opt.steps) {
    const GanStepResult r = trainer.step(images.images);
    CXR_CHECK(std::isfinite(r.discriminator_loss) && std::isfinite(r.generator_loss),
              "GAN training diverged at step {} (a loss is not finite)", trainer.steps());
    sum.discriminator_loss += r.discriminator_loss;
    sum.generator_loss += r.generator_loss;
    sum.real_score += r.real_score;
    sum.fake_score += r.fake_score;
    ++since_log;
    if (trainer.steps() % opt.log_every == 0 || trainer.steps() == opt.steps) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("step {:5d}  loss D {:.3f} G {:.3f}  D(real) {:.2f} D(fake) {:.2f}  {:.0f} s\n", trainer.steps(),
                 sum.discriminator_loss / since_log, sum.generator_loss / since_log, sum.real_score / since_log,
                 sum.fake_score / since_log, seconds);
      std::fflush(stdout);
      sum = {};
      since_log = 0;
    }
    if (trainer.steps() % opt.checkpoint_every == 0 || trainer.steps() == opt.steps) trainer.save(opt.out, extra);
  }
  fmt::print("wrote {}\n", opt.out);
}

void run_sample(const GanOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  GanTrainer trainer = GanTrainer::load(opt.model);
  const auto it = trainer.metadata().find("class");
  const std::string class_name = it == trainer.metadata().end() ? "unknown" : it->second;
  const Tensor images = sample_gan(trainer.generator(), trainer.config().latent, opt.count, opt.sample_seed);
  std::filesystem::create_directories(opt.out);
  std::vector<data::GreyImage> tiles;
  const std::vector<std::pair<std::string, std::string>> text{{"Software", "cxr gan sample"},
                                                              {"Comment", kSyntheticNote}};
  for (std::int64_t i = 0; i < opt.count; ++i) {
    tiles.push_back(gan_image(images, i));
    const data::GreyImage& g = tiles.back();
    RgbImage rgb{g.width, g.height, std::vector<std::uint8_t>(g.pixels.size() * 3)};
    for (std::size_t p = 0; p < g.pixels.size(); ++p)
      rgb.pixels[3 * p] = rgb.pixels[3 * p + 1] = rgb.pixels[3 * p + 2] = g.pixels[p];
    const std::string name = fmt::format("synthetic-{}-{}-{:04d}.png", class_name, opt.sample_seed, i);
    write_file_atomically((std::filesystem::path(opt.out) / name).string(), encode_png(rgb, text));
  }
  fmt::print("wrote {} synthetic images to {}\n", opt.count, opt.out);
  if (!opt.grid.empty()) {
    const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(opt.count))));
    write_file_atomically(opt.grid, encode_png(tile_grid(tiles, columns, 2), text));
    fmt::print("wrote {}\n", opt.grid);
  }
}

boost::json::object summary_json(const NearestSummary& s) {
  return {{"median", s.median}, {"p05", s.p05}, {"min", s.min}};
}

std::string mean_spread(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (const double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (const double x : v) var += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
  return fmt::format("{:.3f} ± {:.3f}", mean, sd);
}

void run_evaluate(const GanOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const data::Dataset dataset = data::Dataset::open(opt.data);
  GanTrainer gan = GanTrainer::load(opt.model);
  const std::string classifier_path = opt.classifier.empty() ? default_model_path() : opt.classifier;
  LoadedModel classifier = load_model(classifier_path);
  GanEvaluationOptions options;
  const auto it = gan.metadata().find("class");
  if (it != gan.metadata().end()) options.class_name = it->second;
  options.generated = opt.count;
  options.sample_seed = opt.sample_seed;
  const GanEvaluation e = evaluate_gan(gan, dataset, classifier, options, [](const std::string& line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
  });
  std::filesystem::create_directories(opt.out);
  const std::vector<std::pair<std::string, std::string>> text{{"Software", "cxr gan evaluate"},
                                                              {"Comment", kSyntheticNote}};
  std::vector<data::GreyImage> tiles;
  for (std::int64_t i = 0; i < std::min<std::int64_t>(64, e.generated); ++i)
    tiles.push_back(gan_image(e.generated_images, i));
  write_file_atomically((std::filesystem::path(opt.out) / "samples.png").string(),
                        encode_png(tile_grid(tiles, 8, 2), text));
  tiles.clear();
  boost::json::array pairs;
  for (const GanEvaluation::Pair& p : e.closest) {
    tiles.push_back(gan_image(e.generated_images, p.generated));
    tiles.push_back(gan_image(e.train_images, p.train_by_pixels));
    tiles.push_back(gan_image(e.train_images, p.train_by_features));
    pairs.push_back({{"generated", p.generated},
                     {"train_by_pixels", p.train_by_pixels},
                     {"train_by_features", p.train_by_features},
                     {"pixel_rms", p.pixel_distance}});
  }
  write_file_atomically((std::filesystem::path(opt.out) / "nearest.png").string(),
                        encode_png(tile_grid(tiles, 3, 2), text));

  fmt::print(
      "\n{} generated, {} real train and {} real test '{}' images; GAN side {} px, classifier input from {} px\n",
      e.generated, e.train_real, e.test_real, options.class_name, e.gan_size, e.dataset_size);
  fmt::print(
      "CXR-FD generated vs train@{0}: {1:.2f}   test@{0} vs train@{0} (reference): {2:.2f}   generated vs "
      "test@{0}: {3:.2f}   test vs train at {4} px: {5:.2f}\n",
      e.gan_size, e.fd_generated_train_small, e.fd_test_train_small, e.fd_generated_test_small, e.dataset_size,
      e.fd_test_train);
  fmt::print(
      "nearest train image, RMS pixels at {} px: generated median {:.3f} p05 {:.3f} min {:.3f} | real test median "
      "{:.3f} p05 {:.3f} min {:.3f}\n",
      e.gan_size, e.pixel_generated.median, e.pixel_generated.p05, e.pixel_generated.min, e.pixel_test.median,
      e.pixel_test.p05, e.pixel_test.min);
  fmt::print(
      "nearest train image, features: generated median {:.3f} p05 {:.3f} min {:.3f} | real test median {:.3f} "
      "p05 {:.3f} min {:.3f}\n",
      e.feature_generated.median, e.feature_generated.p05, e.feature_generated.min, e.feature_test.median,
      e.feature_test.p05, e.feature_test.min);
  fmt::print("\nper-class F1 on the real test split, linear head on frozen features, mean ± sd over {} seeds\n",
             e.arms.empty() ? 0 : e.arms[0].f1.size());
  fmt::print("| training set | images | {} | macro F1 |\n|---|---|", fmt::join(e.class_names, " | "));
  for (std::size_t c = 0; c <= e.class_names.size(); ++c) fmt::print("---|");
  fmt::print("\n");
  boost::json::array arms;
  for (const AugmentationArm& arm : e.arms) {
    fmt::print("| {} | {} |", arm.name, arm.train_images);
    boost::json::object per_class;
    for (std::size_t c = 0; c < e.class_names.size(); ++c) {
      std::vector<double> v;
      boost::json::array values;
      for (const auto& seed : arm.f1) v.push_back(seed[c]), values.push_back(seed[c]);
      fmt::print(" {} |", mean_spread(v));
      per_class[e.class_names[c]] = std::move(values);
    }
    fmt::print(" {} |\n", mean_spread(arm.macro_f1));
    arms.push_back({{"name", arm.name},
                    {"train_images", arm.train_images},
                    {"f1_per_seed", std::move(per_class)},
                    {"macro_f1_per_seed", boost::json::value_from(arm.macro_f1)}});
  }
  const boost::json::object json{
      {"gan", opt.model},
      {"gan_steps", gan.steps()},
      {"classifier", classifier_path},
      {"class", options.class_name},
      {"images", {{"generated", e.generated}, {"train", e.train_real}, {"test", e.test_real}}},
      {"gan_size", e.gan_size},
      {"dataset_size", e.dataset_size},
      {"cxr_fd",
       {{"generated_vs_train_small", e.fd_generated_train_small},
        {"test_small_vs_train_small", e.fd_test_train_small},
        {"generated_vs_test_small", e.fd_generated_test_small},
        {"test_vs_train", e.fd_test_train}}},
      {"nearest_train",
       {{"pixel_rms_generated", summary_json(e.pixel_generated)},
        {"pixel_rms_test", summary_json(e.pixel_test)},
        {"feature_generated", summary_json(e.feature_generated)},
        {"feature_test", summary_json(e.feature_test)},
        {"closest_pairs", std::move(pairs)}}},
      {"augmentation", std::move(arms)}};
  write_file_atomically((std::filesystem::path(opt.out) / "evaluation.json").string(), boost::json::serialize(json));
  fmt::print("\nwrote evaluation.json, samples.png and nearest.png to {}\n", opt.out);
}

}  // namespace

void add_gan_command(CLI::App& app) {
  CLI::App* gan = app.add_subcommand("gan", "DCGAN X-ray generator: train, sample (synthetic images)");
  gan->require_subcommand(1);
  auto opt = std::make_shared<GanOptions>();

  CLI::App* train = gan->add_subcommand("train", "train a DCGAN on one class's frontal train-split X-rays");
  train->add_option("--data", opt->data, "a built dataset (cxr data build)")->required()->check(CLI::ExistingDirectory);
  train->add_option("--out", opt->out, "checkpoint file (written atomically)")->required();
  train->add_option("--class", opt->class_name, "the class to learn")->capture_default_str();
  train->add_option("--steps", opt->steps, "total steps (a resumed run continues to this)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->add_option("--size", opt->config.image_size, "image side: 8, 16, 32, 64, 128")
      ->check(CLI::IsMember({8, 16, 32, 64, 128}))
      ->capture_default_str();
  train->add_option("--latent", opt->config.latent)->check(CLI::Range(1, 4096))->capture_default_str();
  train->add_option("--generator-width", opt->config.generator_width, "channels of the generator's last stage")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  train
      ->add_option("--discriminator-width", opt->config.discriminator_width,
                   "channels of the discriminator's first stage")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  train->add_option("--batch", opt->train.batch_size, "images per step")
      ->check(CLI::Range(2, 4096))
      ->capture_default_str();
  train->add_option("--lr", opt->train.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--beta1", opt->train.beta1, "Adam beta1")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  train->add_option("--real-label", opt->train.real_label, "the discriminator's target for real images")
      ->check(CLI::Range(0.5, 1.0))
      ->capture_default_str();
  train->add_option("--seed", opt->train.seed)->capture_default_str();
  train->add_option("--checkpoint-every", opt->checkpoint_every)->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--log-every", opt->log_every)->check(CLI::PositiveNumber)->capture_default_str();
  train->add_flag("--resume", opt->resume, "continue the run in --out (its settings win)");
  train->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  train->callback([opt] { run_train(*opt); });

  CLI::App* sample = gan->add_subcommand("sample", "write synthetic X-rays as PNGs");
  sample->add_option("--model", opt->model, "GAN checkpoint (cxr gan train)")->required()->check(CLI::ExistingFile);
  sample->add_option("--count", opt->count, "images")->check(CLI::Range(1, 100000))->capture_default_str();
  sample->add_option("--out", opt->out, "folder for the PNGs (created)")->required();
  sample->add_option("--seed", opt->sample_seed, "latent seed")->capture_default_str();
  sample->add_option("--grid", opt->grid, "also write all of them as one grid PNG");
  sample->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  sample->callback([opt] { run_sample(*opt); });

  CLI::App* evaluate =
      gan->add_subcommand("evaluate", "CXR-FD, nearest neighbours and the augmentation experiment of a GAN");
  evaluate->add_option("--data", opt->data, "the built dataset the GAN was trained on")
      ->required()
      ->check(CLI::ExistingDirectory);
  evaluate->add_option("--model", opt->model, "GAN checkpoint")->required()->check(CLI::ExistingFile);
  evaluate->add_option("--classifier", opt->classifier, "classifier model (default: the bundled one)")
      ->check(CLI::ExistingFile);
  evaluate->add_option("--count", opt->count, "images to generate")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  evaluate->add_option("--seed", opt->sample_seed, "latent seed")->capture_default_str();
  evaluate->add_option("--out", opt->out, "folder for evaluation.json, samples.png, nearest.png")->required();
  evaluate->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  evaluate->callback([opt] { run_evaluate(*opt); });
}

}  // namespace cxr::cli
