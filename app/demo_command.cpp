// `cxr demo`: a short training run of the engine on the synthetic task, printing
// the loss as it learns. Until the web app exists this is what scripts/run starts.
#include "app/commands.h"
#include "base/parallel.h"
#include "models/synthetic_training.h"

#include <fmt/format.h>

#include <memory>

namespace cxr::cli {

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<SyntheticTrainingOptions>();
  auto threads = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand(
      "demo", "Train a narrowed reference net on a synthetic 4-class image task and report accuracy");
  cmd->add_option("--steps", options->steps, "training steps")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch", options->batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--size", options->image_size, "image size in pixels")
      ->check(CLI::Range(16, 512))
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "random seed")->capture_default_str();
  cmd->add_option("--threads", *threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([options, threads] {
    if (*threads > 0) set_num_threads(*threads);
    fmt::print(
        "cxr demo: training a depthwise-separable CNN (width {}) on synthetic {}x{} images, "
        "{} steps of batch {}, {} threads\n",
        options->width, options->image_size, options->image_size, options->steps, options->batch, num_threads());
    const int every = std::max(1, options->steps / 10);
    const auto result = train_synthetic(*options, [&](int step, double loss) {
      if ((step + 1) % every == 0 || step == 0)
        fmt::print("  step {:4d}/{}  loss {:.4f}\n", step + 1, options->steps, loss);
    });
    fmt::print("trained in {:.1f} s ({:.0f} images/s); held-out accuracy {:.1f}% on {} images\n", result.seconds,
               result.images_per_second, 100 * result.test_accuracy, options->test_images);
  });
}

}  // namespace cxr::cli
