// Resumable training checkpoints: one safetensors file with the flat parameter,
// buffer and optimizer-moment tensors and, in the metadata "state" (JSON), the
// rest of the run's state:
//
//   options             the run's TrainOptions (a resume must agree with them)
//   manifest_sha256     the dataset the run trains on
//   threads             the thread count (bit-identical continuation needs the same)
//   epoch, batch, step  the next epoch (0-based) and batch within it; optimizer steps
//   epoch_loss_sum, epoch_batches, epoch_train_seconds, epoch_images
//                       the partly done epoch's running sums
//   dropout_state       the dropout generator's state
//   history, best_epoch, best_macro_f1, bad_epochs, train_seconds, train_images
//
// Tensors: model.values, model.buffers, and optimizer.exp_avg + optimizer.exp_avg_sq
// (AdamW) or optimizer.momentum_buffer (SGD). Doubles in the state are hexadecimal
// strings (json_fields::exact_double), so every value reads back exactly.
#pragma once

#include "engine/tensor.h"
#include "models/trainer.h"

#include <boost/json/fwd.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace cxr {

inline constexpr const char* kTrainCheckpointFormat = "cxr-train-checkpoint";
inline constexpr int kTrainCheckpointVersion = 1;

struct TrainState {
  TrainOptions options;
  std::string manifest_sha256;
  int threads = 0;
  std::int64_t epoch = 0, batch = 0, step = 0;
  double epoch_loss_sum = 0;
  std::int64_t epoch_batches = 0;
  double epoch_train_seconds = 0;
  std::int64_t epoch_images = 0;
  std::uint64_t dropout_state = 0;
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_macro_f1 = -1;  // the best selection score: macro-F1, or the worst cell's (TrainOptions::select)
  int bad_epochs = 0;
  double train_seconds = 0;
  std::int64_t train_images = 0;
};

struct TrainCheckpoint {
  TrainState state;
  std::map<std::string, Tensor> tensors;
};

// Atomic (temp file + rename).
void save_train_checkpoint(const std::string& path, const TrainState& state,
                           const std::vector<std::pair<std::string, Tensor>>& tensors);
// Throws cxr::Error naming the file when it is not a training checkpoint of this version.
TrainCheckpoint load_train_checkpoint(const std::string& path);

// exact: doubles as hexadecimal strings (checkpoints); otherwise JSON numbers (model cards).
boost::json::object to_json(const TrainOptions& options, bool exact = false);
TrainOptions train_options_from_json(const boost::json::value& json);
boost::json::object to_json(const EpochRecord& record, bool exact = false);
EpochRecord epoch_record_from_json(const boost::json::value& json);

}  // namespace cxr
