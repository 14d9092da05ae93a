// Each cxr subcommand registers itself on the app from its own file.
#pragma once

#include <CLI/CLI.hpp>

namespace cxr::cli {

void add_demo_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_explain_command(CLI::App& app);
void add_eval_heatmaps_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_ood_command(CLI::App& app);
void add_seg_command(CLI::App& app);
void add_gan_command(CLI::App& app);
void add_lungs_command(CLI::App& app);

}  // namespace cxr::cli
