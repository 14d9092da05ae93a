// Training telemetry: what a learner watches to see whether a run is healthy,
// recorded every `interval` optimizer steps into DIR/telemetry.jsonl, one JSON
// object per line (appended and flushed line by line, so a run that is killed
// leaves at most a torn last line, which read_telemetry skips):
//
//   {"step": 20, "epoch": 1, "lr": 0.001, "loss": 1.2,
//    "layers": [{"name": "stem", "trainable": true, "grad_norm": .., "weight_norm": ..,
//                "update_norm": .., "update_ratio": .., "zero_fraction": ..,
//                "dead_channels": .., "bn_mean": .., "bn_var": ..}, ...]}
//
// Per layer (ClassifierNet::layer_names(), then "head" for every other parameter):
//   grad_norm      ||g||, the L2 norm of the gradients of the layer's parameters
//   weight_norm    ||w|| after the update
//   update_norm    ||w_after - w_before||; update_ratio = update_norm / weight_norm
//                  (the classic rule of thumb: about 1e-3 per step)
//   zero_fraction  the share of the layer's output values that are exactly 0 (its
//                  ReLU did not fire), over up to kTelemetryProbeImages of the batch,
//                  the net in evaluation mode (running statistics, no dropout)
//   dead_channels  the share of its output channels that are 0 at every position of
//                  every probe image
//   bn_mean        mean of |running_mean| over the layer's batch norms; bn_var the
//                  mean of running_var (absent without batch norm)
// Keys without a meaning for a layer are absent (a max-pool block has no weights,
// the head no activation map). A non-finite number is written as null.
//
// Measuring reads the net and copies the parameters; it changes nothing and draws
// no random numbers, so a run with telemetry trains bit for bit as one without.
#pragma once

#include "models/trainer.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace cxr {

inline constexpr int kTelemetryProbeImages = 4;
inline constexpr const char* kTelemetryFile = "telemetry.jsonl";

struct LayerTelemetry {
  std::string name;
  bool trainable = false;  // has parameters the optimizer updates
  std::optional<double> grad_norm, weight_norm, update_norm, update_ratio;
  std::optional<double> zero_fraction, dead_channels;
  std::optional<double> bn_mean, bn_var;
};

struct TelemetryRecord {
  std::int64_t step = 0;
  int epoch = 0;
  double lr = 0, loss = 0;
  std::vector<LayerTelemetry> layers;
};

std::string telemetry_json_line(const TelemetryRecord& record);  // no newline
// Throws cxr::Error when the line is not a telemetry record.
TelemetryRecord parse_telemetry_line(const std::string& line);
// Every record of DIR/telemetry.jsonl; a torn last line is skipped, any other bad
// line is a cxr::Error naming it.
std::vector<TelemetryRecord> read_telemetry(const std::filesystem::path& dir);

// Measures before and after each due optimizer step (UpdateView) and appends the
// record. attach() sets a TrainCallbacks' before_update and after_update.
class TelemetryRecorder {
 public:
  TelemetryRecorder(const std::filesystem::path& dir, int interval);

  bool due(std::int64_t step) const { return step % interval_ == 0; }
  void before_update(const UpdateView& u);
  void after_update(const UpdateView& u);
  void attach(TrainCallbacks& callbacks);

 private:
  struct LayerParams {
    std::string name;
    std::vector<std::size_t> parameters;  // indices into ParameterSet::parameters()
    std::vector<Tensor> running_means, running_vars;
  };
  void map_layers(ClassifierNet& net, const ParameterSet& params);

  int interval_;
  std::ofstream out_;
  std::vector<LayerParams> layers_;
  TelemetryRecord pending_;
  Tensor values_before_;  // float64 host copy of the flat parameters
};

}  // namespace cxr
