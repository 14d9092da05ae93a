// cxr: the command-line entry point. Each subcommand lives in its own file and
// registers itself here.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "base/check.h"
#include "kernels/cuda/runtime.h"

int main(int argc, char** argv) {
  CLI::App app{
      "CXR: a from-scratch deep-learning engine for chest X-ray classification.\n"
      "Research software, not a medical device."};
  app.set_version_flag("--version", [] { return fmt::format("cxr {}\n{}", CXR_VERSION, cxr::cuda::describe()); });
  app.require_subcommand(0, 1);
  // Subcommands (one file each in app/) are added here.
  cxr::cli::add_demo_command(app);
  cxr::cli::add_data_command(app);
  cxr::cli::add_serve_command(app);
  cxr::cli::add_train_command(app);
  cxr::cli::add_eval_command(app);
  cxr::cli::add_predict_command(app);
  cxr::cli::add_explain_command(app);
  cxr::cli::add_eval_heatmaps_command(app);
  cxr::cli::add_inspect_command(app);
  cxr::cli::add_ood_command(app);
  cxr::cli::add_seg_command(app);
  cxr::cli::add_lungs_command(app);
  cxr::cli::add_gan_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cxr: error: {}\n", e.what());
    return 1;
  }
  if (app.get_subcommands().empty()) fmt::print("{}", app.help());
  return 0;
}
